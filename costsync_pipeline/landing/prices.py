"""Price sources into the warehouse: what each source offers, the effective-dated history, and
the state of every source.

Each source (the bundled defaults, LiteLLM's feed, inbox files and events, the overrides file)
replaces its own rows in ``price_offers`` when it is read. ``apply_offers`` then plans
``model_prices`` from all offers under the precedence and history rules of
``transforms.price_history`` and writes the result in one transaction, under a warehouse lock
so two runs never interleave. A change that reaches usage already stored queues its days in
``pending_recosts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.sources.prices.litellm_map import PriceRow
from costsync_pipeline.transforms.price_history import (
    BEGINNING,
    RATE_FIELDS,
    Offer,
    StoredPrice,
    plan_history,
    rates_of,
)
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.locks import exclusive

LOCK = "model_prices"
KEY_FIELDS = ("provider", "model", "service_tier", "min_prompt_tokens")


def utc(value) -> dt.datetime | None:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if value is None or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _rate(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).normalize()


@dataclass(frozen=True)
class SourceOffers:
    """What one source says now: its rows, each optionally dated by the source."""

    origin: str  # "default", "feed", "override", or an inbox file's checksum
    source: str  # recorded on every price row, e.g. "feed:litellm", "inbox:prices.json"
    rows: list[PriceRow]
    seen_at: dt.datetime
    effective_from: list[dt.datetime | None] = field(default_factory=list)


def store_offers(engine: sa.Engine, offers: SourceOffers) -> int:
    """Replace the origin's rows in ``price_offers``; return how many it now offers.

    A key given twice by one source keeps its last row (a later line of a file wins).
    """
    dated = offers.effective_from or [None] * len(offers.rows)
    by_key: dict[tuple, dict] = {}
    for row, effective in zip(offers.rows, dated, strict=True):
        by_key[(row.provider, row.model, row.service_tier, row.min_prompt_tokens)] = {
            "origin": offers.origin,
            **{f: getattr(row, f) for f in KEY_FIELDS},
            "source": offers.source,
            **{f: getattr(row, f) for f in RATE_FIELDS},
            "effective_from": effective,
            "seen_at": offers.seen_at,
        }
    with exclusive(engine, LOCK), engine.begin() as conn:
        conn.execute(sa.delete(t.price_offers).where(t.price_offers.c.origin == offers.origin))
        if by_key:
            conn.execute(sa.insert(t.price_offers), list(by_key.values()))
    return len(by_key)


def _price_row(r) -> PriceRow:
    """A row of price_offers or model_prices (the same key and rate columns) as a PriceRow."""
    return PriceRow(
        r["provider"],
        r["model"],
        r["service_tier"],
        int(r["min_prompt_tokens"]),
        *(_rate(r[f]) for f in RATE_FIELDS[:-1]),
        r["currency"],
    )


def _offers(conn: sa.Connection) -> list[Offer]:
    return [
        Offer(_price_row(r), r["source"], utc(r["seen_at"]), utc(r["effective_from"]))
        for r in conn.execute(sa.select(t.price_offers)).mappings()
    ]


def _stored(conn: sa.Connection) -> list[StoredPrice]:
    out = []
    for r in conn.execute(sa.select(t.model_prices)).mappings():
        row = _price_row(r)
        out.append(
            StoredPrice(
                r["version"],
                tuple(r[f] if f != "min_prompt_tokens" else int(r[f]) for f in KEY_FIELDS),
                rates_of(row),
                r["source"],
                utc(r["valid_from"]),
                utc(r["valid_to"]),
            )
        )
    return out


@dataclass
class AppliedPrices:
    opened: int = 0
    closed: int = 0
    reopened: int = 0
    # Per price key, the earliest instant whose price changed.
    changed_from: dict[tuple, dt.datetime] = field(default_factory=dict)
    recost_days: list[dt.date] = field(default_factory=list)


def apply_offers(
    engine: sa.Engine,
    now: dt.datetime,
    affected_days: Callable[[sa.Connection, dict[tuple, dt.datetime]], list[dt.date]] | None = None,
) -> AppliedPrices:
    """Plan ``model_prices`` from every source's offers and write the changes atomically.

    ``affected_days`` maps the changed keys to the usage days that need re-costing; those
    days are queued in ``pending_recosts``.
    """
    result = AppliedPrices()
    with exclusive(engine, LOCK), engine.begin() as conn:
        changes = plan_history(_stored(conn), _offers(conn), now)
        mp = t.model_prices
        for version, valid_to in changes.closes.items():
            conn.execute(sa.update(mp).where(mp.c.version == version).values(valid_to=valid_to))
            if valid_to is None:
                result.reopened += 1
            else:
                result.closed += 1
        if changes.opens:
            conn.execute(sa.insert(mp), changes.opens)
        result.opened = len(changes.opens)
        result.changed_from = changes.changed_from
        if changes.changed_from and affected_days is not None:
            result.recost_days = affected_days(conn, changes.changed_from)
            queue_recosts(conn, result.recost_days, "price change", now)
    return result


def queue_recosts(
    conn: sa.Connection, days: Iterable[dt.date], reason: str, now: dt.datetime
) -> None:
    """Ask for these usage days to be re-costed (a later request for a day replaces one)."""
    days = sorted(set(days))
    if not days:
        return
    generation = _next_generation(conn)
    pr = t.pending_recosts
    conn.execute(sa.delete(pr).where(pr.c.usage_date.in_(days)))
    conn.execute(
        sa.insert(pr),
        [
            {"usage_date": d, "reason": reason, "requested_at": now, "generation": generation}
            for d in days
        ],
    )


def _next_generation(conn: sa.Connection) -> int:
    """Increment the counter in the caller's transaction (the row lock orders writers)."""
    rg = t.recost_generation
    bumped = conn.execute(
        sa.update(rg).where(rg.c.id == 1).values(generation=rg.c.generation + 1)
    ).rowcount
    if not bumped:
        conn.execute(sa.insert(rg).values(id=1, generation=1))
    return conn.execute(sa.select(rg.c.generation).where(rg.c.id == 1)).scalar_one()


def recost_generation(engine: sa.Engine) -> int:
    """The latest committed generation; read it BEFORE the prices, so a change committed
    after this read has a higher generation and its request is not answered by mistake."""
    with engine.connect() as conn:
        rg = t.recost_generation
        value = conn.execute(sa.select(rg.c.generation).where(rg.c.id == 1)).scalar()
        return int(value or 0)


def pending_recost_days(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.pending_recosts).order_by("usage_date")).mappings()
        return [dict(r) for r in rows]


def clear_recosts(engine: sa.Engine, start: dt.date, end: dt.date, generation: int) -> None:
    """A landed window answers the requests whose price changes it saw (generation at most
    the one read before its prices)."""
    pr = t.pending_recosts
    with engine.begin() as conn:
        conn.execute(
            sa.delete(pr).where(
                pr.c.usage_date >= start,
                pr.c.usage_date < end,
                pr.c.generation <= generation,
            )
        )


def record_source(
    engine: sa.Engine,
    source: str,
    *,
    status: str,
    attempted_at: dt.datetime,
    message: str | None = None,
    location: str | None = None,
    last_updated: dt.datetime | None = None,
    model_count: int | None = None,
    checksum: str | None = None,
) -> None:
    """Record a read of a price or FX source. A failed read keeps the last good read's
    figures (``fetched_at``, ``model_count``, ...) so the age shown stays the real age."""
    pm = t.price_metadata
    values = {"status": status, "message": message, "attempted_at": attempted_at}
    if location is not None:
        values["location"] = location
    if status in ("ok", "partial"):
        values |= {
            "fetched_at": attempted_at,
            "last_updated": last_updated or attempted_at,
            "model_count": model_count,
            "checksum": checksum,
        }
    with engine.begin() as conn:
        done = conn.execute(sa.update(pm).where(pm.c.source == source).values(**values))
        if not done.rowcount:
            conn.execute(sa.insert(pm).values(source=source, **values))


def source_states(engine: sa.Engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.price_metadata)).mappings()
        return {
            r["source"]: {
                **r,
                "fetched_at": utc(r["fetched_at"]),
                "attempted_at": utc(r["attempted_at"]),
                "last_updated": utc(r["last_updated"]),
            }
            for r in rows
        }


PRICE_COLUMNS = [
    "version",
    *KEY_FIELDS,
    *RATE_FIELDS,
    "valid_from",
    "valid_to",
    "source",
]


def load_prices(conn: sa.Connection) -> pd.DataFrame:
    """Every live price version (emptied ones, ``valid_to = valid_from``, left out), in the
    columns ``PriceBook.from_frame`` takes: which key a name matches must not depend on the
    days priced together, so callers take them all."""
    mp = t.model_prices
    query = sa.select(*(mp.c[c] for c in PRICE_COLUMNS)).where(
        sa.or_(mp.c.valid_to.is_(None), mp.c.valid_to > mp.c.valid_from)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=PRICE_COLUMNS)
    for col in ("valid_from", "valid_to"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def changed_since(changed_from: dict[tuple, dt.datetime]) -> dt.datetime:
    return min(changed_from.values(), default=BEGINNING)
