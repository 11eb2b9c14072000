"""Writing a window's results: the background upserter, rejections, per-file-day counts."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.outcomes import FileOutcome
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.upsert import CostAudit, UpsertCounts, upsert_frame

RANK_COLUMNS = ("source_received_at", "source_file", "source_row")
PER_FILE_COLUMNS = ("source", "source_file", "source_received_at")


class Uploader:
    """Upserts validated chunks in a background thread, in the order given, while the next
    chunk is validated, so Python and PostgreSQL work at the same time. At most two chunks
    wait, which bounds memory."""

    def __init__(self, engine: sa.Engine, now: dt.datetime, run_id: str | None = None):
        self.engine = engine
        self.stamp = pd.Timestamp(now).tz_convert("UTC").as_unit("us")
        self.audit = CostAudit("usage_costs", run_id, self.stamp)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="costsync-upsert")
        self.pending: list[Future] = []
        self.counts = UpsertCounts()

    def submit(self, good: pd.DataFrame) -> None:
        if good.empty:
            return
        # Columns with one value per file are bound once instead of sent with every row.
        first = good.iloc[0]
        constants = {c: first[c] for c in PER_FILE_COLUMNS}
        constants |= {"ingested_at": self.stamp, "updated_at": self.stamp}
        rows = good.drop(columns=list(PER_FILE_COLUMNS))
        self.pending.append(
            self.pool.submit(
                upsert_frame,
                self.engine,
                t.usage_costs,
                rows,
                constants=constants,
                rank_columns=RANK_COLUMNS,
                audit=self.audit,
            )
        )
        while len(self.pending) > 2:
            self.counts = self.counts + self.pending.pop(0).result()

    def close(self) -> UpsertCounts:
        try:
            while self.pending:
                self.counts = self.counts + self.pending.pop(0).result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return self.counts


def store_rejections(
    engine: sa.Engine, rejected: pd.DataFrame, checksums: list[str], start, end, now
) -> None:
    rr = t.rejected_records
    if not rejected.empty:
        frame = rejected.assign(rejected_at=pd.Timestamp(now).tz_convert("UTC").as_unit("us"))
        frame = frame[[c.name for c in rr.columns]].drop_duplicates(
            ["file_checksum", "row_number", "stage", "column", "check"], keep="last"
        )
        for col in ("value", "raw", "request_id"):
            # The offending value may hold a NUL, which PostgreSQL text cannot store: show it.
            text = frame[col].astype("str")
            frame[col] = text.str.replace("\x00", "\\x00", regex=False).where(text.notna())
        upsert_frame(engine, rr, frame, insert_only_columns=("rejected_at",), parallel=1)
    if not checksums:
        return
    # A row rejected by an earlier run but accepted now (a fixed rule) must not stay rejected.
    keep = set(
        zip(
            rejected.get("file_checksum", []),
            rejected.get("row_number", []),
            rejected.get("stage", []),
            rejected.get("column", []),
            rejected.get("check", []),
            strict=True,
        )
    )
    with engine.begin() as conn:
        stored = conn.execute(
            sa.select(rr.c.file_checksum, rr.c.row_number, rr.c.stage, rr.c.column, rr.c.check)
            .where(rr.c.file_checksum.in_(checksums))
            .where(rr.c.partition_date >= start, rr.c.partition_date < end)
        ).all()
        stale = [tuple(r) for r in stored if tuple(r) not in keep]
        for key in stale:
            conn.execute(
                sa.delete(rr).where(
                    rr.c.file_checksum == key[0],
                    rr.c.row_number == key[1],
                    rr.c.stage == key[2],
                    rr.c.column == key[3],
                    rr.c.check == key[4],
                )
            )


def store_file_days(engine, outcomes: list[FileOutcome], run_id, now) -> None:
    rows = [
        {
            "file_checksum": o.checksum,
            "usage_date": day,
            "rows_read": s.rows_read,
            "rows_landed": s.rows_landed,
            "rows_rejected": s.rows_rejected,
            "rows_duplicate": s.rows_duplicate,
            "rows_superseded": s.rows_superseded,
            "billed_cost_read": s.billed_cost_read,
            "billed_cost_landed": s.billed_cost_landed,
            "billed_cost_rejected": s.billed_cost_rejected,
            "billed_cost_superseded": s.billed_cost_superseded,
            "run_id": run_id,
            "updated_at": now,
        }
        for o in outcomes
        for day, s in o.days.items()
    ]
    if rows:
        upsert_frame(
            engine,
            t.landed_file_days,
            pd.DataFrame(rows),
            ignore_columns=("run_id", "updated_at"),
            parallel=1,
        )


def window_totals(engine: sa.Engine, start: dt.date, end: dt.date) -> dict:
    """Rows and cost of record per day of the window, and a preview of the first rows."""
    uc = t.usage_costs
    with engine.connect() as conn:
        days = conn.execute(
            sa.select(uc.c.usage_date, sa.func.count(), sa.func.sum(uc.c.cost_usd))
            .where(uc.c.usage_date >= start, uc.c.usage_date < end)
            .group_by(uc.c.usage_date)
            .order_by(uc.c.usage_date)
        ).all()
        preview = conn.execute(
            sa.select(
                uc.c.request_id,
                uc.c.occurred_at,
                uc.c.provider,
                uc.c.model,
                uc.c.input_tokens,
                uc.c.output_tokens,
                uc.c.cost_usd,
            )
            .where(uc.c.usage_date >= start, uc.c.usage_date < end)
            .order_by(uc.c.occurred_at, uc.c.request_id)
            .limit(5)
        ).all()
    costs = [c for _, _, c in days if c is not None]
    return {
        "rows": sum(int(n) for _, n, _ in days),
        "cost_usd": sum(costs[1:], start=costs[0]) if costs else None,
        "by_day": [(str(d), int(n), c) for d, n, c in days],
        "preview": [dict(r._mapping) for r in preview],
    }
