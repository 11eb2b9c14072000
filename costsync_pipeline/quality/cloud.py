"""Checks on the stored ``cost_snapshots`` rows of a window of days."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from costsync_pipeline.quality.usage import CheckOutcome, rejection_rate, rows_accounted_for
from costsync_pipeline.warehouse import tables as t

CENT = Decimal("0.01")


def _dec(value) -> Decimal:
    return Decimal(str(value or 0))


def billed_cost_conserved(engine: sa.Engine, start: dt.date, end: dt.date) -> CheckOutcome:
    """Per export and day, the file's own billed cost = landed + rejected + superseded; and
    the window's stored snapshots add up to the billed cost landed, to the cent."""
    fd, lf, cs = t.landed_file_days, t.landed_files, t.cost_snapshots
    cloud = fd.c.file_checksum.in_(sa.select(lf.c.file_checksum).where(lf.c.kind == "cloud"))
    with engine.connect() as conn:
        days = conn.execute(
            sa.select(
                fd.c.file_checksum,
                fd.c.usage_date,
                fd.c.billed_cost_read,
                fd.c.billed_cost_landed,
                fd.c.billed_cost_rejected,
                fd.c.billed_cost_superseded,
            ).where(fd.c.usage_date >= start, fd.c.usage_date < end, cloud)
        ).all()
        stored = conn.execute(
            sa.select(sa.func.sum(cs.c.billed_cost)).where(
                cs.c.usage_date >= start, cs.c.usage_date < end
            )
        ).scalar_one()
    broken = [
        f"{checksum[:12]} {day}: read {read}, landed {landed}, rejected {rej}, superseded {sup}"
        for checksum, day, read, landed, rej, sup in days
        if abs(_dec(read) - _dec(landed) - _dec(rej) - _dec(sup)) >= CENT
    ]
    landed_total = sum((_dec(r[3]) for r in days), Decimal(0))
    stored_total = _dec(stored)
    matches = abs(stored_total - landed_total) < CENT
    return CheckOutcome(
        "billed_cost_conserved",
        not broken and matches,
        "each export's billed cost is landed, rejected or superseded, and the stored "
        "snapshots add up to what landed, to the cent",
        {
            "file_days": len(days),
            "file_day_mismatches": "; ".join(broken[:10]) or "none",
            "billed_cost_landed": str(landed_total),
            "billed_cost_stored": str(stored_total),
        },
    )


def usd_value_known(engine: sa.Engine, start: dt.date, end: dt.date) -> CheckOutcome:
    """Rows billed in a currency with no FX rate on or before their day have no USD value:
    they are not summed into USD totals (daily_cost counts them separately)."""
    cs = t.cost_snapshots
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(cs.c.billing_currency, sa.func.count(), sa.func.sum(cs.c.billed_cost))
            .where(cs.c.usage_date >= start, cs.c.usage_date < end)
            .where(cs.c.billed_cost_usd.is_(None))
            .group_by(cs.c.billing_currency)
            .order_by(cs.c.billing_currency)
        ).all()
    return CheckOutcome(
        "usd_value_known",
        not rows,
        "every snapshot has a USD value",
        {
            "rows_without_usd": sum(int(n) for _, n, _ in rows),
            "by_currency": ", ".join(f"{c}: {n} rows, {total}" for c, n, total in rows) or "none",
        },
        blocking=False,
    )


def credits_not_positive(engine: sa.Engine, start: dt.date, end: dt.date) -> CheckOutcome:
    """Credits reduce a bill: a positive one is kept as the export says (it may be a reversal)
    but is worth a look."""
    cs = t.cost_snapshots
    with engine.connect() as conn:
        n, total = conn.execute(
            sa.select(sa.func.count(), sa.func.sum(cs.c.billed_cost)).where(
                cs.c.usage_date >= start,
                cs.c.usage_date < end,
                cs.c.charge_category == "Credit",
                cs.c.billed_cost > 0,
            )
        ).one()
    return CheckOutcome(
        "credits_not_positive",
        not n,
        "every Credit snapshot is zero or negative",
        {"positive_credit_rows": int(n), "positive_credit_total": str(total or 0)},
        blocking=False,
    )


def cloud_checks(engine: sa.Engine, start: dt.date, end: dt.date) -> list[CheckOutcome]:
    return [
        rows_accounted_for(engine, start, end, kind="cloud"),
        billed_cost_conserved(engine, start, end),
        rejection_rate(engine, start, end, kind="cloud"),
        usd_value_known(engine, start, end),
        credits_not_positive(engine, start, end),
    ]
