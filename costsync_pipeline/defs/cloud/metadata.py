"""Materialization metadata for cost_snapshots."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.defs.usage.metadata import md_table
from costsync_pipeline.landing.cloud import CloudWindowResult
from costsync_pipeline.warehouse import tables as t


def snapshot_metadata(engine: sa.Engine, result: CloudWindowResult) -> dict:
    cs = t.cost_snapshots
    in_window = sa.and_(cs.c.usage_date >= result.start, cs.c.usage_date < result.end)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).where(in_window)).scalar_one()
        by_currency = conn.execute(
            sa.select(
                cs.c.billing_currency,
                cs.c.charge_category,
                sa.func.count(),
                sa.func.sum(cs.c.billed_cost),
            )
            .where(in_window)
            .group_by(cs.c.billing_currency, cs.c.charge_category)
            .order_by(cs.c.billing_currency, cs.c.charge_category)
        ).all()
        usd = conn.execute(sa.select(sa.func.sum(cs.c.billed_cost_usd)).where(in_window)).scalar()
    total = result.total()
    last = result.end - dt.timedelta(days=1)
    single_day = last == result.start
    files = [
        [
            o.name,
            o.source,
            s.rows_read,
            s.rows_landed,
            s.rows_rejected,
            s.rows_superseded,
            s.billed_cost_read,
            s.billed_cost_landed,
            s.billed_cost_rejected,
            s.billed_cost_superseded,
        ]
        for o in result.files
        for s in [o.total()]
    ]
    return {
        "window": str(result.start) if single_day else f"{result.start} to {last}",
        **({"dagster/row_count": int(rows)} if single_day else {}),
        "rows_in_window": int(rows),
        "inserted": result.changes.inserted,
        "updated": result.changes.updated,
        "deleted": result.changes.deleted,
        "unchanged": result.changes.unchanged,
        "audited_changes": result.changes.audited,
        "line_items_read": total.rows_read,
        "line_items_rejected": total.rows_rejected,
        "line_items_superseded": total.rows_superseded,
        "billed_cost_read": str(total.billed_cost_read or 0),
        "billed_cost_landed": str(total.billed_cost_landed or 0),
        "billed_cost_rejected": str(total.billed_cost_rejected or 0),
        "billed_cost_superseded": str(total.billed_cost_superseded or 0),
        "total_cost_usd": float(usd or 0),
        "total_cost_usd_exact": str(usd or 0),
        "by_currency_and_category": dg.MetadataValue.md(
            md_table(
                ["currency", "charge_category", "rows", "billed_cost"],
                [list(r) for r in by_currency],
            )
        ),
        "files": dg.MetadataValue.md(
            md_table(
                [
                    "file",
                    "format",
                    "read",
                    "landed",
                    "rejected",
                    "superseded",
                    "billed read",
                    "billed landed",
                    "billed rejected",
                    "billed superseded",
                ],
                files,
            )
        ),
        "rejected_by_reason": dg.MetadataValue.md(
            md_table(["reason", "rows"], [[k, v] for k, v in result.rejected_by_reason.items()])
        ),
    }
