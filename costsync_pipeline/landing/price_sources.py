"""Read each price source and record what it offers (``price_offers``) and how the read went
(``price_metadata``). A source that cannot be read never stops the others: its failure is
recorded with a message, and the prices it gave before stay in force.

Sources and their ``price_metadata.source`` names:

* ``default``: the bundled file ``data/prices/default_prices.json`` (seed 002's shape);
* ``feed``: LiteLLM's price map from ``COSTSYNC_PRICE_FEED_URL`` (``off`` disables it), with
  LiteLLM's guard: an empty, malformed or more-than-half-shrunk map is refused;
* ``inbox``: price files and model-cost-update events dropped in ``$COSTSYNC_INBOX/prices/``,
  each landed once by checksum (unreadable ones are set aside to ``prices/failed/``);
* ``override``: the local overrides file (negotiated prices), optional.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.fx import RANK, store_rates
from costsync_pipeline.landing.prices import (
    SourceOffers,
    record_source,
    source_states,
    store_offers,
)
from costsync_pipeline.landing.registry import record_unreadable
from costsync_pipeline.sources.fx import FxRate, seed002_rate
from costsync_pipeline.sources.http import FetchError
from costsync_pipeline.sources.prices.feed import FeedRefused, fetch_feed
from costsync_pipeline.sources.prices.files import PriceFile, PriceFileError, read_price_file
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.upsert import upsert_frame

PRICES_KIND = "prices"
FEED_SOURCE = "feed:litellm"


@dataclass
class SourceRead:
    """How one read of a price source went (for the asset's metadata, checks and summary)."""

    source: str
    status: str  # ok, partial, failed, refused, off, missing, unchanged
    message: str | None = None
    models: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    fx: list[FxRate] = field(default_factory=list)
    files: int = 0
    set_aside: int = 0


def _models(rows) -> int:
    return len({(r.provider, r.model) for r in rows})


def _file_fx(engine, price_file: PriceFile, source: str, now: dt.datetime) -> list[FxRate]:
    """A seed 002 file's ``usd_to_zar``, stored as a ZAR rate of the file's date."""
    if price_file.usd_to_zar is None:
        return []
    as_of = (price_file.last_updated or now).date()
    rates = [seed002_rate(price_file.usd_to_zar, as_of, source)]
    store_rates(engine, rates, RANK["price_file"], now)
    return rates


def _problems(name: str, price_file: PriceFile) -> list[str]:
    return [f"{name}, {where}: {why}" for where, why in price_file.problems]


def _load_file_source(
    engine: sa.Engine, source: str, origin: str, label: str, data: bytes, name: str, now
) -> SourceRead:
    price_file = read_price_file(data, name)
    offers = SourceOffers(origin, label, price_file.rows, now, price_file.effective_from)
    stored = store_offers(engine, offers)
    read = SourceRead(
        source,
        "ok",
        models=_models(price_file.rows),
        rows=stored,
        problems=_problems(name, price_file),
        fx=_file_fx(engine, price_file, label, now),
        files=1,
    )
    record_source(
        engine,
        source,
        status="ok",
        attempted_at=now,
        message="; ".join(read.problems[:5]) or None,
        last_updated=price_file.last_updated,
        model_count=read.models,
        checksum=hashlib.sha256(data).hexdigest(),
    )
    return read


def load_defaults(engine: sa.Engine, path: Path, now: dt.datetime) -> SourceRead:
    """The bundled default prices: a broken bundled file is a bug, so it raises."""
    data = path.read_bytes()
    return _load_file_source(
        engine, "default", "default", f"default:{path.name}", data, path.name, now
    )


def load_overrides(engine: sa.Engine, path: Path | None, now: dt.datetime) -> SourceRead:
    """Negotiated prices; no file means no overrides (the offers of a removed file go)."""
    location = str(path) if path else None
    if path is None or not path.exists():
        store_offers(engine, SourceOffers("override", "override", [], now))
        message = f"no overrides file at {path}" if path else "no overrides file configured"
        record_source(
            engine,
            "override",
            status="missing",
            attempted_at=now,
            message=message,
            location=location,
        )
        return SourceRead("override", "missing", message)
    try:
        return _load_file_source(
            engine,
            "override",
            "override",
            f"override:{path.name}",
            path.read_bytes(),
            path.name,
            now,
        )
    except PriceFileError as exc:
        # The overrides in force stay: a typo must not silently drop negotiated prices.
        record_source(engine, "override", status="failed", attempted_at=now, message=str(exc))
        return SourceRead("override", "failed", str(exc))


def load_feed(engine: sa.Engine, url: str, now: dt.datetime, **fetch_kwargs) -> SourceRead:
    """LiteLLM's map; a failure or a refusal is recorded and returned, never raised."""
    if url.strip().lower() == "off":
        record_source(
            engine, "feed", status="off", attempted_at=now, message="COSTSYNC_PRICE_FEED_URL=off"
        )
        return SourceRead("feed", "off", "COSTSYNC_PRICE_FEED_URL=off")
    state = source_states(engine).get("feed") or {}
    current = state.get("model_count") if state.get("fetched_at") else None
    try:
        snapshot = fetch_feed(url, current_model_count=current, **fetch_kwargs)
    except (FetchError, FeedRefused) as exc:
        status = "refused" if isinstance(exc, FeedRefused) else "failed"
        message = f"{exc}; the prices already known stay in force"
        record_source(
            engine, "feed", status=status, attempted_at=now, message=message, location=url
        )
        return SourceRead("feed", status, message)
    unchanged = state.get("checksum") == snapshot.checksum and state.get("status") == "ok"
    stored = 0
    if not unchanged:
        stored = store_offers(engine, SourceOffers("feed", FEED_SOURCE, snapshot.rows, now))
    record_source(
        engine,
        "feed",
        status="ok",
        attempted_at=now,
        location=url,
        model_count=snapshot.model_count,
        checksum=snapshot.checksum,
        # The same map as last time keeps the date it was first read.
        last_updated=state.get("last_updated") if unchanged else None,
    )
    if unchanged:
        return SourceRead("feed", "unchanged", "same map as last time", snapshot.model_count)
    return SourceRead("feed", "ok", models=snapshot.model_count, rows=stored)


def _landed(engine: sa.Engine, checksums: list[str]) -> set[str]:
    if not checksums:
        return set()
    lf = t.landed_files
    with engine.connect() as conn:
        rows = conn.execute(sa.select(lf.c.file_checksum).where(lf.c.file_checksum.in_(checksums)))
        return {r[0] for r in rows}


def _reject_problems(engine, f: inbox.InboxFile, price_file: PriceFile, now) -> None:
    if not price_file.problems:
        return
    frame = pd.DataFrame(
        [
            {
                "file_checksum": f.checksum,
                "row_number": i,
                "stage": "prices",
                "column": where,
                "check": "price",
                "source_file": f.name,
                "partition_date": None,
                "request_id": None,
                "value": None,
                "reason": why,
                "raw": None,
                "rejected_at": now,
            }
            for i, (where, why) in enumerate(price_file.problems, start=1)
        ]
    )
    upsert_frame(
        engine, t.rejected_records, frame, insert_only_columns=("rejected_at",), parallel=1
    )


def new_price_files(engine: sa.Engine, inbox_url: str) -> list[inbox.InboxFile]:
    """Files in ``<inbox>/prices/`` whose content has not landed yet."""
    files = inbox.list_inbox(inbox_url, PRICES_KIND)
    landed = _landed(engine, [f.checksum for f in files])
    return [f for f in files if f.checksum not in landed]


def load_inbox_prices(
    engine: sa.Engine, inbox_url: str, raw_zone_url: str, now: dt.datetime
) -> SourceRead:
    """New files in ``<inbox>/prices/``: each lands once (by checksum) as its own offers."""
    files = inbox.list_inbox(inbox_url, PRICES_KIND)
    landed = _landed(engine, [f.checksum for f in files])
    read = SourceRead("inbox", "ok")
    for f in files:
        if f.checksum in landed:
            continue
        landed.add(f.checksum)  # the same content twice in one scan lands once
        data = inbox.read_bytes(f.path)
        try:
            price_file = read_price_file(data, f.name)
        except PriceFileError as exc:
            record_unreadable(engine, inbox_url, f, str(exc), now, kind=PRICES_KIND)
            read.set_aside += 1
            read.problems.append(str(exc))
            continue
        raw_path = inbox.copy_to_raw_zone(f, inbox_url, raw_zone_url, PRICES_KIND)
        seen = min(f.modified_at, now)
        offers = SourceOffers(
            f.checksum, f"inbox:{f.name}", price_file.rows, seen, price_file.effective_from
        )
        read.rows += store_offers(engine, offers)
        read.models += _models(price_file.rows)
        read.files += 1
        read.problems += _problems(f.name, price_file)
        read.fx += _file_fx(engine, price_file, f"inbox:{f.name}", now)
        _reject_problems(engine, f, price_file, now)
        upsert_frame(
            engine,
            t.landed_files,
            pd.DataFrame(
                [
                    {
                        "file_checksum": f.checksum,
                        "kind": PRICES_KIND,
                        "file_name": f.name,
                        "raw_path": raw_path,
                        "format": price_file.shape,
                        "size_bytes": f.size,
                        "rows_read": len(price_file.rows) + len(price_file.problems),
                        "status": "landed",
                        "message": "; ".join(read.problems[-3:]) or None,
                        "received_at": seen,
                        "landed_at": now,
                    }
                ]
            ),
            insert_only_columns=("landed_at",),
            parallel=1,
        )
    if read.set_aside:
        read.message = f"{read.set_aside} file(s) set aside to prices/failed/"
    record_source(
        engine,
        "inbox",
        status="ok" if not read.set_aside else "partial",
        attempted_at=now,
        location=f"{inbox_url.rstrip('/')}/{PRICES_KIND}",
        message=read.message,
        model_count=_offered_models(engine),
    )
    return read


def _offered_models(engine: sa.Engine) -> int:
    po = t.price_offers
    with engine.connect() as conn:
        inner = (
            sa.select(po.c.provider, po.c.model)
            .where(po.c.source.like("inbox:%"))
            .distinct()
            .subquery()
        )
        return conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one()
