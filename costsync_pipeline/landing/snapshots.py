"""Replace a window's rows of ``cost_snapshots`` and audit every figure that changes.

The rebuilt rows of a window are the truth for its days: stored rows they no longer have are
deleted, changed ones updated, new ones inserted, all in one transaction. Every stored figure
that changes or disappears is written to ``cost_audit_log`` with its old and new value and the
export that changed it, so a re-issued export never loses the earlier numbers. A rebuild that
changes nothing writes nothing.

The new rows are staged in a temporary table (COPY on PostgreSQL) and compared with the stored
ones in SQL, so both sides went through the same NUMERIC column type before they are compared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.schemas.cloud import SNAPSHOT_KEY
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.engine import is_postgres
from costsync_pipeline.warehouse.upsert import stage_frame, upsert_staged

ENTITY = "cost_snapshots"
MONEY = ("billed_cost", "billed_cost_usd", "effective_cost", "effective_cost_usd")
COLUMNS = (
    *SNAPSHOT_KEY,
    "billing_currency",
    *MONEY,
    "consumed_quantity",
    "consumed_unit",
    "line_items",
    "billing_period_start",
    "source",
    "source_file",
    "source_received_at",
)
SCOPE = ("provider", "billing_account_id", "billing_period_start")
# Arbitrary constant: one writer of cost_snapshots at a time on PostgreSQL (SQLite's
# transactions take the write lock up front).
_PG_LOCK_ID = 0xC05752


@dataclass(frozen=True)
class SnapshotChanges:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    audited: int = 0


def _text(value) -> str | None:
    """An amount as plain decimal text (the column's type rounds it to its scale)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def _frame(snapshots: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({c: snapshots[c] for c in COLUMNS}) if not snapshots.empty else None
    if out is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    for c in (*MONEY, "consumed_quantity"):
        out[c] = pd.Series([_text(v) for v in out[c]], index=out.index, dtype=object)
    for c in ("usage_date", "billing_period_start"):
        out[c] = pd.Series(
            [
                v.isoformat() if isinstance(v, dt.date) else pd.Timestamp(v).date().isoformat()
                for v in out[c]
            ],
            index=out.index,
            dtype="str",
        )
    out["line_items"] = out["line_items"].astype("int64")
    out["source_received_at"] = pd.to_datetime(out["source_received_at"], utc=True)
    return out


class _Sql:
    """The few statements that differ between the two databases."""

    def __init__(self, conn: sa.Connection):
        self.pg = is_postgres(conn.engine)
        self.q = conn.dialect.identifier_preparer.quote

    def key_json(self, alias: str) -> str:
        parts = ", ".join(f"{alias}.{self.q(c)}" for c in SNAPSHOT_KEY)
        return f"CAST(json_build_array({parts}) AS TEXT)" if self.pg else f"json_array({parts})"

    def distinct(self, a: str, b: str, columns) -> str:
        op = "IS DISTINCT FROM" if self.pg else "IS NOT"
        return " OR ".join(f"{a}.{self.q(c)} {op} {b}.{self.q(c)}" for c in columns)

    def join(self, a: str, b: str, columns) -> str:
        return " AND ".join(f"{a}.{self.q(c)} = {b}.{self.q(c)}" for c in columns)


def _audit_insert(columns: str) -> str:
    return (
        "INSERT INTO cost_audit_log (entity, entity_key, old_cost_usd, new_cost_usd, "
        "old_value, new_value, currency, reason, run_id, source_file, file_checksum, "
        f"changed_at) {columns}"
    )


def replace_window(
    engine: sa.Engine,
    snapshots: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    current: dict[tuple, str],
    *,
    run_id: str | None,
    now: dt.datetime,
) -> SnapshotChanges:
    """Make the window's stored rows equal ``snapshots``; ``current`` maps each scope
    (provider, billing account, billing period start) to its latest export's checksum."""
    frame = _frame(snapshots)
    scopes = pd.DataFrame(
        [(*k[:2], k[2].isoformat(), checksum) for k, checksum in current.items()],
        columns=[*SCOPE, "file_checksum"],
    )
    params = {"start": start, "end": end, "run_id": run_id, "now": now, "entity": ENTITY}
    with engine.begin() as conn:
        sql = _Sql(conn)
        if sql.pg:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_ID)))
        new = stage_frame(conn, t.cost_snapshots, frame)
        latest = stage_frame(conn, t.landed_file_scopes, scopes)
        window = "t.usage_date >= :start AND t.usage_date < :end"
        missing = f"NOT EXISTS (SELECT 1 FROM {new} s WHERE {sql.join('s', 't', SNAPSHOT_KEY)})"
        changed = conn.execute(
            sa.text(
                _audit_insert(
                    f"SELECT :entity, {sql.key_json('t')}, t.billed_cost_usd, s.billed_cost_usd, "
                    "t.billed_cost, s.billed_cost, s.billing_currency, "
                    "CASE WHEN t.source_file = s.source_file "
                    "THEN 'recomputed from ' || COALESCE(nf.file_name, s.source_file) "
                    "ELSE 'replaced by ' || COALESCE(nf.file_name, s.source_file) "
                    "|| ', a later export (was ' || COALESCE(of.file_name, t.source_file) || ')' "
                    "END, :run_id, nf.file_name, s.source_file, :now "
                    f"FROM cost_snapshots t JOIN {new} s ON {sql.join('t', 's', SNAPSHOT_KEY)} "
                    "LEFT JOIN landed_files nf ON nf.file_checksum = s.source_file "
                    "LEFT JOIN landed_files of ON of.file_checksum = t.source_file "
                    f"WHERE {window} AND ({sql.distinct('t', 's', (*MONEY, 'billing_currency'))})"
                )
            ),
            params,
        ).rowcount
        removed = conn.execute(
            sa.text(
                _audit_insert(
                    f"SELECT :entity, {sql.key_json('t')}, t.billed_cost_usd, NULL, "
                    "t.billed_cost, NULL, t.billing_currency, "
                    "CASE WHEN c.file_checksum IS NOT NULL AND c.file_checksum <> t.source_file "
                    "THEN 'not in ' || COALESCE(nf.file_name, c.file_checksum) "
                    "|| ', the latest export of its billing period' "
                    "ELSE 'no longer produced by any landed export (was ' "
                    "|| COALESCE(of.file_name, t.source_file) || ')' END, "
                    ":run_id, nf.file_name, c.file_checksum, :now "
                    "FROM cost_snapshots t "
                    f"LEFT JOIN {latest} c ON {sql.join('c', 't', SCOPE)} "
                    "LEFT JOIN landed_files nf ON nf.file_checksum = c.file_checksum "
                    "LEFT JOIN landed_files of ON of.file_checksum = t.source_file "
                    f"WHERE {window} AND {missing}"
                )
            ),
            params,
        ).rowcount
        deleted = conn.execute(
            sa.text(f"DELETE FROM cost_snapshots AS t WHERE {window} AND {missing}")
            if sql.pg
            else sa.text(
                f"DELETE FROM cost_snapshots WHERE usage_date >= :start AND usage_date < :end "
                f"AND NOT EXISTS (SELECT 1 FROM {new} s WHERE "
                f"{sql.join('s', 'cost_snapshots', SNAPSHOT_KEY)})"
            ),
            params,
        ).rowcount
        if not sql.pg:
            conn.exec_driver_sql(f"DROP TABLE {latest}")
        stamp = pd.Timestamp(now).tz_convert("UTC")
        counts = upsert_staged(
            conn,
            t.cost_snapshots,
            new,
            COLUMNS,
            len(frame),
            constants={"ingested_at": stamp, "updated_at": stamp},
        )
    return SnapshotChanges(
        counts.inserted, counts.updated, deleted, counts.unchanged, changed + removed
    )
