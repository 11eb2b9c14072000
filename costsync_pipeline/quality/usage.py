"""Checks on the stored ``usage_costs`` rows of a window of days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from costsync_pipeline.warehouse import tables as t

# A file more than this fraction bad is more likely a broken export than a few bad rows:
# stop before later stages use the day.
MAX_REJECTED_FRACTION = 0.05


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)
    blocking: bool = True


def _of_kind(kind: str):
    lf = t.landed_files
    return t.landed_file_days.c.file_checksum.in_(
        sa.select(lf.c.file_checksum).where(lf.c.kind == kind)
    )


def rows_accounted_for(
    engine: sa.Engine, start: dt.date, end: dt.date, kind: str = "usage"
) -> CheckOutcome:
    """Per file and day: read = landed + rejected + duplicates (+ superseded, for cloud
    exports), and the rejected count matches the rows stored in ``rejected_records``."""
    fd, rr = t.landed_file_days, t.rejected_records
    rejected_rows = (
        sa.select(
            rr.c.file_checksum,
            rr.c.partition_date,
            sa.func.count(sa.distinct(rr.c.row_number)).label("n"),
        )
        .where(rr.c.partition_date >= start, rr.c.partition_date < end)
        .group_by(rr.c.file_checksum, rr.c.partition_date)
        .subquery()
    )
    query = (
        sa.select(fd, sa.func.coalesce(rejected_rows.c.n, 0).label("stored_rejected"))
        .select_from(
            fd.outerjoin(
                rejected_rows,
                sa.and_(
                    rejected_rows.c.file_checksum == fd.c.file_checksum,
                    rejected_rows.c.partition_date == fd.c.usage_date,
                ),
            )
        )
        .where(fd.c.usage_date >= start, fd.c.usage_date < end, _of_kind(kind))
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    broken = [
        r
        for r in rows
        if r["rows_read"]
        != r["rows_landed"] + r["rows_rejected"] + r["rows_duplicate"] + r["rows_superseded"]
        or r["rows_rejected"] != r["stored_rejected"]
    ]
    return CheckOutcome(
        "rows_accounted_for",
        not broken,
        "every row read is landed, rejected, a collapsed duplicate or superseded",
        {
            "file_days": len(rows),
            "mismatches": len(broken),
            "rows_read": sum(r["rows_read"] for r in rows),
        },
    )


def rejection_rate(
    engine: sa.Engine, start: dt.date, end: dt.date, kind: str = "usage"
) -> CheckOutcome:
    fd = t.landed_file_days
    with engine.connect() as conn:
        read, rejected = conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(fd.c.rows_read), 0),
                sa.func.coalesce(sa.func.sum(fd.c.rows_rejected), 0),
            ).where(fd.c.usage_date >= start, fd.c.usage_date < end, _of_kind(kind))
        ).one()
    fraction = (int(rejected) / int(read)) if read else 0.0
    return CheckOutcome(
        "rejection_rate_within_limit",
        fraction <= MAX_REJECTED_FRACTION,
        f"at most {MAX_REJECTED_FRACTION:.0%} of the rows read are rejected",
        {
            "rows_read": int(read),
            "rows_rejected": int(rejected),
            "rejected_fraction": round(fraction, 6),
        },
        blocking=False,
    )


def stored_rows_valid(engine: sa.Engine, start: dt.date, end: dt.date) -> CheckOutcome:
    """Re-checks the normalized rules on what is stored, whatever path wrote it."""
    uc = t.usage_costs
    rules = {
        "negative_tokens": sa.or_(
            *(
                uc.c[c] < 0
                for c in (
                    "input_tokens",
                    "cache_read_tokens",
                    "cache_write_tokens",
                    "output_tokens",
                    "reasoning_tokens",
                )
            )
        ),
        "reasoning_exceeds_output": uc.c.reasoning_tokens > uc.c.output_tokens,
        "provider_or_model_not_normalized": sa.or_(
            uc.c.provider != sa.func.lower(sa.func.trim(uc.c.provider)),
            uc.c.model != sa.func.lower(sa.func.trim(uc.c.model)),
            uc.c.provider == "",
            uc.c.model == "",
        ),
        "negative_cost": uc.c.reported_cost < 0,
        "cost_without_currency": sa.and_(
            uc.c.reported_cost.is_not(None), uc.c.reported_currency.is_(None)
        ),
    }
    select = sa.select(*(sa.func.count().filter(cond).label(name) for name, cond in rules.items()))
    select = select.where(uc.c.usage_date >= start, uc.c.usage_date < end)
    with engine.connect() as conn:
        counts = dict(conn.execute(select).one()._mapping)
    counts = {k: int(v or 0) for k, v in counts.items()}
    return CheckOutcome(
        "stored_rows_valid",
        not any(counts.values()),
        "stored rows still satisfy the normalized rules",
        counts,
    )


def usage_checks(engine: sa.Engine, start: dt.date, end: dt.date) -> list[CheckOutcome]:
    return [
        rows_accounted_for(engine, start, end),
        rejection_rate(engine, start, end),
        stored_rows_valid(engine, start, end),
        priced(engine, start, end),
    ]


def priced(engine: sa.Engine, start: dt.date, end: dt.date, top: int = 10) -> CheckOutcome:
    """A warning: requests without a computed cost (``price_status`` other than ``priced``:
    no price, none valid at the time, a non-USD price, bad tokens), with the unpriced models
    by traffic so someone can add them (all days: the ``unpriced_models`` view)."""
    uc = t.usage_costs
    window = sa.and_(uc.c.usage_date >= start, uc.c.usage_date < end)
    query = (
        sa.select(uc.c.provider, uc.c.model, sa.func.count().label("requests"))
        .where(window, uc.c.price_status != "priced")
        .group_by(uc.c.provider, uc.c.model)
        .order_by(sa.desc("requests"), uc.c.provider, uc.c.model)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        total = conn.execute(sa.select(sa.func.count()).where(window)).scalar_one()
    unpriced = sum(r.requests for r in rows)
    return CheckOutcome(
        "no_price",
        unpriced == 0,
        "every request matched a model price (unpriced ones still land, with an empty "
        "computed cost; see the unpriced_models view)",
        {
            "requests": int(total),
            "requests_without_price": int(unpriced),
            "unpriced_models": len(rows),
            "top_unpriced_models": ", ".join(
                f"{r.provider}/{r.model} ({r.requests})" for r in rows[:top]
            )
            or "none",
        },
        blocking=False,
    )
