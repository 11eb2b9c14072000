"""FX rates into ``fx_rates``: the bundled file, the optional ECB-format feed, and the
``usd_to_zar`` of seed 002 price files.

A day given by several sources keeps the highest-ranked one (feed > price file > bundled).
A rate that changes for a day in the past queues the usage days it converts for re-costing:
the rate for a day is the latest on or before it, so a change on day D reaches every day from
D on in that currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.prices import LOCK, queue_recosts, record_source
from costsync_pipeline.sources.fx import FxRate, parse_ecb_xml, read_fx_csv
from costsync_pipeline.sources.http import FetchError, fetch
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.locks import exclusive

RANK = {"bundled": 0, "price_file": 1, "feed": 2}


@dataclass
class FxStored:
    written: int = 0
    # Per currency, the earliest day whose rate changed.
    changed_from: dict[str, dt.date] = field(default_factory=dict)
    recost_days: list[dt.date] = field(default_factory=list)


def store_rates(engine: sa.Engine, rates: list[FxRate], rank: int, now: dt.datetime) -> FxStored:
    """Upsert rates where they are new or change a day held by a source of no higher rank."""
    out = FxStored()
    if not rates:
        return out
    fx = t.fx_rates
    latest = {(r.currency, r.as_of_date): r for r in rates}  # the last of a repeated day
    with exclusive(engine, LOCK), engine.begin() as conn:
        currencies = sorted({c for c, _ in latest})
        stored = {
            (r.currency, r.as_of_date): (Decimal(str(r.rate_to_usd)), r.source_rank)
            for r in conn.execute(sa.select(fx).where(fx.c.currency.in_(currencies)))
        }
        for (currency, day), rate in sorted(latest.items()):
            old = stored.get((currency, day))
            if old is not None and old[1] > rank:
                continue  # a higher-ranked source gives this day
            if old is not None and _same(old[0], rate.rate_to_usd):
                if old[1] < rank:  # the same rate, now vouched for by a higher source
                    conn.execute(
                        sa.update(fx)
                        .where(fx.c.currency == currency, fx.c.as_of_date == day)
                        .values(source=rate.source, source_rank=rank, updated_at=now)
                    )
                continue
            values = {
                "rate_to_usd": rate.rate_to_usd,
                "source": rate.source,
                "source_rank": rank,
                "updated_at": now,
            }
            if old is None:
                conn.execute(sa.insert(fx).values(currency=currency, as_of_date=day, **values))
            else:
                conn.execute(
                    sa.update(fx)
                    .where(fx.c.currency == currency, fx.c.as_of_date == day)
                    .values(**values)
                )
            out.written += 1
            first = out.changed_from.get(currency)
            out.changed_from[currency] = day if first is None else min(first, day)
        if out.changed_from:
            out.recost_days = _converted_days(conn, out.changed_from)
            queue_recosts(conn, out.recost_days, "FX rate change", now)
    return out


def _same(stored: Decimal, new: Decimal) -> bool:
    """SQLite keeps NUMERIC as a double: 1/18.45 reads back a few units off in the 17th place,
    which must not count as a change (no real rate moves by a part in 10**12)."""
    return abs(stored - new) <= abs(new) * Decimal("1e-12")


def _converted_days(conn: sa.Connection, changed_from: dict[str, dt.date]) -> list[dt.date]:
    uc = t.usage_costs
    clauses = [
        sa.and_(uc.c.reported_currency == c, uc.c.usage_date >= d) for c, d in changed_from.items()
    ]
    rows = conn.execute(sa.select(uc.c.usage_date).where(sa.or_(*clauses)).distinct())
    return sorted({pd.Timestamp(r[0]).date() for r in rows})


def load_bundled_rates(engine: sa.Engine, path: Path, now: dt.datetime) -> FxStored:
    """The bundled CSV: a broken bundled file is a bug, so bad rows raise."""
    rates, problems = read_fx_csv(path.read_bytes(), path.name)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    stored = store_rates(engine, rates, RANK["bundled"], now)
    _record_read(engine, "fx:bundled", str(path), rates, now)
    return stored


def load_fx_feed(
    engine: sa.Engine, url: str | None, now: dt.datetime, **fetch_kwargs
) -> tuple[str, str | None, FxStored]:
    """(status, message, stored) for the ECB-format feed; failures are recorded, not raised."""
    if not url:
        message = "COSTSYNC_FX_FEED_URL is not set: bundled rates only"
        record_source(engine, "fx:feed", status="off", attempted_at=now, message=message)
        return "off", message, FxStored()
    try:
        rates = parse_ecb_xml(fetch(url, **fetch_kwargs), source="ecb")
    except (FetchError, ValueError) as exc:
        message = f"{exc}; the rates already known stay in force"
        record_source(
            engine, "fx:feed", status="failed", attempted_at=now, message=message, location=url
        )
        return "failed", message, FxStored()
    stored = store_rates(engine, rates, RANK["feed"], now)
    _record_read(engine, "fx:feed", url, rates, now)
    return "ok", None, stored


def _record_read(engine: sa.Engine, source: str, location: str, rates, now) -> None:
    """A good read: dated by its latest rate's day, counted in currencies."""
    latest = max((r.as_of_date for r in rates), default=None)
    record_source(
        engine,
        source,
        status="ok",
        attempted_at=now,
        location=location,
        last_updated=None if latest is None else dt.datetime.combine(latest, dt.time(), dt.UTC),
        model_count=len({r.currency for r in rates}),
    )


def load_rates(engine: sa.Engine, until: dt.date | None = None) -> pd.DataFrame:
    """Every rate on or before ``until`` (the lookup takes the latest on or before a day)."""
    fx = t.fx_rates
    query = sa.select(fx.c.currency, fx.c.rate_to_usd, fx.c.as_of_date)
    if until is not None:
        query = query.where(fx.c.as_of_date <= until)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["currency", "rate_to_usd", "as_of_date"])
    frame["rate_to_usd"] = frame["rate_to_usd"].map(lambda v: Decimal(str(v)))
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame
