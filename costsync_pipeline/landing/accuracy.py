"""``cost_accuracy`` (seed 004's validation): reported against computed cost per UTC day,
provider and model.

Only requests with both a reported USD cost and a computed cost are compared
(``compared_requests``); ``requests`` counts all. ``difference_usd`` = computed - reported,
``ratio`` = computed / reported (empty when nothing was reported), and ``within_tolerance``
is ``|difference| <= tolerance * |reported|`` (empty when nothing could be compared).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.warehouse import tables as t

DEFAULT_TOLERANCE = Decimal("0.01")
CENTS = Decimal("0.000000000001")


def _sum(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENTS)


def accuracy_rows(
    engine: sa.Engine, start: dt.date, end: dt.date, tolerance: Decimal
) -> list[dict]:
    uc = t.usage_costs
    both = sa.and_(uc.c.reported_cost_usd.is_not(None), uc.c.computed_cost_usd.is_not(None))
    query = (
        sa.select(
            uc.c.usage_date,
            uc.c.provider,
            uc.c.model,
            sa.func.count().label("requests"),
            sa.func.count().filter(both).label("compared"),
            sa.func.sum(uc.c.reported_cost_usd).filter(both).label("reported"),
            sa.func.sum(uc.c.computed_cost_usd).filter(both).label("computed"),
        )
        .where(uc.c.usage_date >= start, uc.c.usage_date < end)
        .group_by(uc.c.usage_date, uc.c.provider, uc.c.model)
    )
    with engine.connect() as conn:
        groups = conn.execute(query).all()
    out = []
    for g in groups:
        reported, computed = _sum(g.reported), _sum(g.computed)
        compared = int(g.compared or 0)
        difference = computed - reported if compared else None
        out.append(
            {
                "usage_date": pd.Timestamp(g.usage_date).date(),
                "provider": g.provider,
                "model": g.model,
                "requests": int(g.requests),
                "compared_requests": compared,
                "reported_cost_usd": reported if compared else None,
                "computed_cost_usd": computed if compared else None,
                "difference_usd": difference,
                "ratio": (computed / reported).quantize(CENTS) if compared and reported else None,
                "tolerance": tolerance,
                "within_tolerance": abs(difference) <= tolerance * abs(reported)
                if compared
                else None,
            }
        )
    return out


def build_cost_accuracy(
    engine: sa.Engine, start: dt.date, end: dt.date, tolerance: Decimal, now: dt.datetime
) -> list[dict]:
    """Replace the window's ``cost_accuracy`` rows in one transaction; return them."""
    rows = accuracy_rows(engine, start, end, tolerance)
    ca = t.cost_accuracy
    with engine.begin() as conn:
        conn.execute(sa.delete(ca).where(ca.c.usage_date >= start, ca.c.usage_date < end))
        if rows:
            conn.execute(sa.insert(ca), [{**r, "updated_at": now} for r in rows])
    return rows
