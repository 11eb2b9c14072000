"""The exact daily roll-up of line items: Arrow's decimal group-by and the Python fallback."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from costsync_pipeline.schemas.cloud import SNAPSHOT_KEY
from costsync_pipeline.transforms import cloud

COLUMNS = [*SNAPSHOT_KEY, "billing_currency"]
amounts = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=12, allow_nan=False
)


def items(costs: list[Decimal], units: list[str] | None = None) -> pd.DataFrame:
    n = len(costs)
    return pd.DataFrame(
        {
            "usage_date": [dt.date(2024, 9, 1 + i % 3) for i in range(n)],
            "provider": "aws",
            "billing_account_id": "1",
            "sub_account_id": "",
            "service_name": ["EC2" if i % 2 else "S3" for i in range(n)],
            "resource_type": "",
            "region": "us-east-1",
            "charge_category": "Usage",
            "billing_currency": "USD",
            "billed_cost": costs,
            "effective_cost": costs,
            "consumed_quantity": [Decimal(i) for i in range(n)],
            "consumed_unit": units or ["Hours"] * n,
            "billing_period_start": dt.date(2024, 9, 1),
        }
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=40))
def test_sums_are_exact_and_both_paths_agree(costs):
    frame = items(costs)
    arrow = cloud._arrow_rollup(frame, COLUMNS)
    python = cloud._python_rollup(frame, COLUMNS)
    assert arrow.to_dict("records") == python.to_dict("records")
    assert sum(arrow["billed_cost"], Decimal(0)) == sum(costs, Decimal(0))
    assert int(arrow["line_items"].sum()) == len(costs)


def test_hourly_amounts_add_up_without_float_drift():
    # 60 line items over 3 days and 2 services: 10 per row. 0.1 added 10 times in binary
    # floating point is 0.9999999999999999.
    rolled = cloud.rollup(items([Decimal("0.1")] * 60))
    assert sum([0.1] * 10) != 1.0
    assert len(rolled) == 6 and set(rolled["billed_cost"]) == {Decimal("1")}


def test_mixed_units_leave_the_quantity_empty():
    frame = items([Decimal(1)] * 4, ["Hours", "GB", "Hours", ""])
    frame["usage_date"] = dt.date(2024, 9, 1)
    frame["service_name"] = ["S3", "S3", "EC2", "EC2"]
    frame["consumed_quantity"] = [Decimal(2), Decimal(3), Decimal(5), None]
    rolled = {r.service_name: r for r in cloud.rollup(frame).itertuples()}
    assert (rolled["S3"].consumed_unit, rolled["S3"].consumed_quantity) == ("(mixed)", None)
    assert (rolled["EC2"].consumed_unit, rolled["EC2"].consumed_quantity) == ("Hours", 5)


def test_amounts_beyond_arrow_precision_fall_back_to_python():
    tiny = Decimal("1E-20")
    rolled = cloud.rollup(items([tiny, tiny, Decimal("1")]))
    assert sum(rolled["billed_cost"], Decimal(0)) == Decimal("1") + 2 * tiny
