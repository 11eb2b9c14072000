"""Which usage days a price change reaches, so their partitions can be re-costed.

A price key (provider, model, tier, threshold) that changed from instant T reaches a stored
request when the request happened at or after T and either its stored price version belongs
to that price model, or it resolves to that price model now (a model priced for the first
time, a dated name that now has its own price). Requests without a price (or landed before
prices existed) are re-costed whenever they now resolve to a changed price. Days are the
unit: ``usage_costs`` partitions are re-landed from the raw zone, which re-costs every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.prices import changed_since, load_prices, utc
from costsync_pipeline.transforms.pricing import PriceBook, price_usage
from costsync_pipeline.warehouse import tables as t

TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def affected_usage_days(
    conn: sa.Connection, changed_from: dict[tuple, dt.datetime]
) -> list[dt.date]:
    """The usage days (UTC) holding requests whose cost the changed keys may change."""
    if not changed_from:
        return []
    uc = t.usage_costs
    since = changed_since(changed_from)
    groups = pd.DataFrame(
        conn.execute(
            sa.select(
                uc.c.usage_date,
                uc.c.provider,
                uc.c.model,
                uc.c.service_tier,
                uc.c.price_version,
                sa.func.max(uc.c.occurred_at).label("occurred_at"),
            )
            .where(uc.c.occurred_at >= since)
            .group_by(
                uc.c.usage_date, uc.c.provider, uc.c.model, uc.c.service_tier, uc.c.price_version
            )
        ).all(),
        columns=["usage_date", "provider", "model", "service_tier", "price_version", "occurred_at"],
    )
    if groups.empty:
        return []
    prices = load_prices(conn)
    model_of = dict(
        zip(prices["version"], zip(prices["provider"], prices["model"], strict=True), strict=True)
    )
    # Per price model (provider, model): the earliest change among its tiers and thresholds.
    first_change: dict[tuple, dt.datetime] = {}
    for key, instant in changed_from.items():
        model = (key[0], key[1])
        first_change[model] = min(instant, first_change.get(model, instant))
    probe = groups.assign(
        occurred_at=pd.to_datetime(groups["occurred_at"], utc=True),
        **{c: pd.array([0] * len(groups), dtype="Int64") for c in TOKENS},
    )
    now_priced = price_usage(probe, PriceBook.from_frame(prices))["price_version"]
    days = set()
    for row, new_version in zip(probe.itertuples(index=False), now_priced, strict=True):
        occurred = utc(row.occurred_at)
        for version in (row.price_version, new_version):
            if not isinstance(version, str):
                continue
            since_model = first_change.get(model_of.get(version))
            if since_model is not None and occurred >= since_model:
                days.add(pd.Timestamp(row.usage_date).date())
        if not isinstance(row.price_version, str) and isinstance(new_version, str):
            days.add(pd.Timestamp(row.usage_date).date())  # priced for the first time
    return sorted(days)


@dataclass(frozen=True)
class RecostRun:
    first: str  # partition keys (YYYY-MM-DD)
    last: str
    reason: str
    run_key: str


def recost_runs(pending: list[dict], max_days: int = 31) -> list[RecostRun]:
    """Contiguous pending days as runs of at most ``max_days``; the run key includes the
    latest request's generation, so a new request for a day runs again and a repeat does
    not."""
    days = sorted(pending, key=lambda p: p["usage_date"])
    runs: list[list[dict]] = []
    for p in days:
        day = pd.Timestamp(p["usage_date"]).date()
        if runs:
            last = pd.Timestamp(runs[-1][-1]["usage_date"]).date()
            if day == last + dt.timedelta(days=1) and len(runs[-1]) < max_days:
                runs[-1].append(p)
                continue
        runs.append([p])
    out = []
    for group in runs:
        first = pd.Timestamp(group[0]["usage_date"]).date().isoformat()
        last = pd.Timestamp(group[-1]["usage_date"]).date().isoformat()
        latest = max(int(p["generation"]) for p in group)
        reasons = sorted({p["reason"] for p in group})
        out.append(RecostRun(first, last, ", ".join(reasons), f"recost:{first}:{last}:{latest}"))
    return out
