"""The registry of landed files (``landed_files``) and the raw zone that keeps them."""

from __future__ import annotations

import contextlib
import datetime as dt

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.kinds import KINDS, USAGE, Kind
from costsync_pipeline.landing.planning import plan_inbox
from costsync_pipeline.landing.routing import FileInspection, received_at
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.locks import exclusive
from costsync_pipeline.warehouse.upsert import upsert_frame


def register_new_files(
    engine: sa.Engine,
    inbox_url: str,
    raw_zone_url: str,
    start: dt.date,
    end: dt.date,
    now: dt.datetime,
    planned_at: dt.datetime | None = None,
    kind: Kind | str = USAGE,
) -> list[tuple[str, str]]:
    """Land the inbox files not seen before whose rows touch [start, end).

    Copies each into the raw zone and records it in ``landed_files``; sets aside the ones that
    cannot be read. Returns (file name, message) for each file set aside. ``planned_at`` is
    the time the sensor (or ``costsync run``) planned this run: receipt times are capped at it,
    as they were in the plan, so both agree on which days a file's rows may fall on.
    """
    kind = KINDS[kind] if isinstance(kind, str) else kind
    # A new cloud export changes which export of its scope is current: never while a window
    # of that kind is deciding it.
    with exclusive(engine, kind.lock) if kind.lock else contextlib.nullcontext():
        plan = plan_inbox(engine, inbox_url, planned_at or now, kind=kind)
        set_aside, rows, scopes = [], [], []
        for f, message in plan.unreadable:
            set_aside.append((f.name, message))
            record_unreadable(engine, inbox_url, f, message, now, kind=kind.name)
        for f, info in plan.readable:
            if not any(start <= d < end for d in info.dates):
                continue  # belongs to other partitions: their runs land it
            raw_path = inbox.copy_to_raw_zone(f, inbox_url, raw_zone_url, kind.name)
            scopes += _scope_rows(f.checksum, info)
            rows.append(
                {
                    "file_checksum": f.checksum,
                    "kind": kind.name,
                    "file_name": f.name,
                    "raw_path": raw_path,
                    "format": info.source,
                    "size_bytes": f.size,
                    "rows_read": info.rows_read,
                    "first_date": info.dates[0],
                    "last_date": info.dates[-1],
                    "status": "landed",
                    "message": None,
                    "received_at": info.received_at,
                    "landed_at": now,
                }
            )
        if scopes:
            # Before the file itself: a file is only ever seen as landed with its scopes.
            _insert_ignore(engine, t.landed_file_scopes, scopes)
        if rows:
            _insert_ignore(engine, t.landed_files, rows)
        return set_aside


def _scope_rows(checksum: str, info: FileInspection) -> list[dict]:
    return [
        {
            "file_checksum": checksum,
            "provider": s.provider,
            "billing_account_id": s.billing_account_id,
            "billing_period_start": s.billing_period_start,
            "first_date": s.first_date,
            "last_date": s.last_date,
            "received_at": info.received_at,
        }
        for s in info.scopes
    ]


def record_unreadable(
    engine: sa.Engine,
    inbox_url: str,
    f: inbox.InboxFile,
    message: str,
    now: dt.datetime,
    kind: str = USAGE.name,
) -> None:
    """Set a file aside and say so in ``landed_files`` and ``rejected_records``."""
    target = inbox.set_aside(inbox_url, kind, f, message)
    _insert_ignore(
        engine,
        t.landed_files,
        [
            {
                "file_checksum": f.checksum,
                "kind": kind,
                "file_name": f.name,
                "raw_path": None,
                "format": None,
                "size_bytes": f.size,
                "rows_read": None,
                "first_date": None,
                "last_date": None,
                "status": "set_aside",
                "message": f"{message} (moved to {target})",
                "received_at": received_at(f.modified_at, now),
                "landed_at": now,
            }
        ],
    )
    upsert_frame(
        engine,
        t.rejected_records,
        pd.DataFrame(
            [
                {
                    "file_checksum": f.checksum,
                    "row_number": 0,
                    "stage": "file",
                    "column": "",
                    "check": "readable",
                    "source_file": f.name,
                    "partition_date": None,
                    "request_id": None,
                    "value": None,
                    "reason": message,
                    "raw": None,
                    "rejected_at": now,
                }
            ]
        ),
        insert_only_columns=("rejected_at",),
        ignore_columns=(),
        parallel=1,
    )


def _insert_ignore(engine: sa.Engine, table: sa.Table, rows: list[dict]) -> None:
    upsert_frame(
        engine,
        table,
        pd.DataFrame(rows),
        ignore_columns=(),
        insert_only_columns=tuple(rows[0].keys()),
        parallel=1,
    )


def files_for_window(
    engine: sa.Engine, start: dt.date, end: dt.date, kind: str = USAGE.name
) -> list[dict]:
    """Landed files whose rows may fall in [start, end), oldest received first."""
    lf = t.landed_files
    query = (
        sa.select(lf)
        .where(lf.c.kind == kind, lf.c.status == "landed")
        .where(lf.c.first_date < end, lf.c.last_date >= start)
        .order_by(lf.c.received_at, lf.c.file_checksum)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
