"""Replace a window's rows of ``cost_snapshots`` and audit every figure that changes.

The rebuilt rows of a window are the truth for its days: stored rows they no longer have are
deleted, changed ones updated, new ones inserted, all in one transaction. Every stored figure
that changes or disappears is written to ``cost_audit_log`` with its old and new value and the
export that changed it, so a re-issued export never loses the earlier numbers. A rebuild that
changes nothing writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.schemas.cloud import SNAPSHOT_KEY
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.engine import is_postgres

ENTITY = "cost_snapshots"
MONEY = ("billed_cost", "billed_cost_usd", "effective_cost", "effective_cost_usd")
COMPARED = (
    *MONEY,
    "billing_currency",
    "consumed_quantity",
    "consumed_unit",
    "line_items",
    "billing_period_start",
    "source",
    "source_file",
)
SCALE = Decimal("1e-12")  # the scale of the Money columns
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


def _money(value) -> Decimal | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return (
        Decimal(value).quantize(SCALE)
        if isinstance(value, Decimal)
        else Decimal(str(value)).quantize(SCALE)
    )


def _same(a, b, exact: bool) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        a, b = _money(a), _money(b)
        # SQLite keeps NUMERIC as a binary float: equal to about 15 significant digits.
        return a == b if exact else abs(a - b) <= max(abs(b), Decimal(1)) * Decimal("1e-12")
    return a == b


def _key(row: dict) -> tuple:
    day = row["usage_date"]
    day = (
        day
        if isinstance(day, dt.date) and not isinstance(day, dt.datetime)
        else (pd.Timestamp(day).date())
    )
    return (day, *(row[c] for c in SNAPSHOT_KEY[1:]))


def _rows(frame: pd.DataFrame) -> list[dict]:
    if frame.empty:
        return []
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for r in rows:
        r["usage_date"] = _key(r)[0]
        r["billing_period_start"] = pd.Timestamp(r["billing_period_start"]).date()
        for c in (*MONEY, "consumed_quantity"):
            r[c] = _money(r[c])
        r["line_items"] = int(r["line_items"])
    return rows


def _names(conn: sa.Connection, checksums: set[str]) -> dict[str, str]:
    lf = t.landed_files
    if not checksums:
        return {}
    found = conn.execute(
        sa.select(lf.c.file_checksum, lf.c.file_name).where(lf.c.file_checksum.in_(checksums))
    ).all()
    return dict(found)


def _audit(old: dict, new: dict | None, reason: str, checksum, names, run_id, now) -> dict:
    return {
        "entity": ENTITY,
        "entity_key": json.dumps([str(old["usage_date"]), *old_key_text(old)]),
        "old_cost_usd": old["billed_cost_usd"],
        "new_cost_usd": new["billed_cost_usd"] if new else None,
        "old_value": old["billed_cost"],
        "new_value": new["billed_cost"] if new else None,
        "currency": (new or old)["billing_currency"],
        "reason": reason,
        "run_id": run_id,
        "source_file": names.get(checksum) if checksum else None,
        "file_checksum": checksum,
        "changed_at": now,
    }


def old_key_text(row: dict) -> list[str]:
    return [row[c] for c in SNAPSHOT_KEY[1:]]


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
    cs = t.cost_snapshots
    exact = is_postgres(engine)
    new_rows = {_key(r): r for r in _rows(snapshots)}
    with engine.begin() as conn:
        if exact:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_ID)))
        stored = {
            _key(r): dict(r)
            for r in conn.execute(
                sa.select(cs).where(cs.c.usage_date >= start, cs.c.usage_date < end)
            ).mappings()
        }
        names = _names(
            conn,
            {r["source_file"] for r in (*stored.values(), *new_rows.values())}
            | set(current.values()),
        )
        inserts, updates, deletes, audit = [], [], [], []
        unchanged = 0
        for key, new in new_rows.items():
            old = stored.get(key)
            if old is None:
                inserts.append(new | {"ingested_at": now, "updated_at": now})
                continue
            if all(_same(old[c], new[c], exact) for c in COMPARED):
                unchanged += 1
                continue
            updates.append(new | {"updated_at": now})
            if not all(_same(old[c], new[c], exact) for c in (*MONEY, "billing_currency")):
                reason = (
                    f"recomputed from {names.get(new['source_file'])}"
                    if old["source_file"] == new["source_file"]
                    else f"replaced by {names.get(new['source_file'])}, a later export "
                    f"(was {names.get(old['source_file'])})"
                )
                audit.append(_audit(old, new, reason, new["source_file"], names, run_id, now))
        for key, old in stored.items():
            if key in new_rows:
                continue
            deletes.append(key)
            scope = (old["provider"], old["billing_account_id"], old["billing_period_start"])
            latest = current.get(scope)
            was = names.get(old["source_file"])
            reason = (
                f"not in {names.get(latest)}, the latest export of its billing period"
                if latest and latest != old["source_file"]
                else f"no longer produced by any landed export (was {was})"
            )
            audit.append(_audit(old, None, reason, latest, names, run_id, now))
        key_cols = [cs.c[c] for c in SNAPSHOT_KEY]
        where = sa.and_(*(c == sa.bindparam(f"k_{c.name}") for c in key_cols))
        if deletes:
            conn.execute(
                sa.delete(cs).where(where),
                [{f"k_{c}": v for c, v in zip(SNAPSHOT_KEY, k, strict=True)} for k in deletes],
            )
        if updates:
            values = [c for c in updates[0] if c not in SNAPSHOT_KEY]
            conn.execute(
                sa.update(cs).where(where).values({c: sa.bindparam(f"v_{c}") for c in values}),
                [
                    {f"k_{c}": u[c] for c in SNAPSHOT_KEY} | {f"v_{c}": u[c] for c in values}
                    for u in updates
                ],
            )
        if inserts:
            conn.execute(sa.insert(cs), inserts)
        if audit:
            conn.execute(sa.insert(t.cost_audit_log), audit)
    return SnapshotChanges(len(inserts), len(updates), len(deletes), unchanged, len(audit))
