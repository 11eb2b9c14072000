"""Cloud billing line items (FOCUS vocabulary) -> normalized line items -> daily snapshots.

Amounts are Python ``Decimal`` from the text the export wrote, summed exactly: hourly line
items add up per UTC day with no float drift.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from costsync_pipeline.schemas.cloud import KEY_TEXT_COLUMNS, SNAPSHOT_KEY
from costsync_pipeline.transforms.normalize import _decimal_text, clean_text, utc_dates

MIXED_UNITS = "(mixed)"
ROLLED_UP = (
    "billed_cost",
    "effective_cost",
    "consumed_quantity",
    "consumed_unit",
    "line_items",
    "billing_period_start",
)


# Plain decimal numbers only, as the raw DECIMAL check accepts them: no thousands separators,
# underscores or non-ASCII digits (which Python's Decimal would otherwise take).
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Amounts must fit NUMERIC(24, 12): anything at or above 10**12 is not a storable amount.
MAX_AMOUNT = Decimal(10) ** 12


def _decimal(text) -> Decimal | None:
    if text is None or text is pd.NA or not _PLAIN.fullmatch(str(text)):
        return None
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    return value if value.is_finite() and abs(value) < MAX_AMOUNT else None


def to_decimals(s: pd.Series, keep_invalid: bool = False) -> pd.Series:
    """Amounts as exact Decimals: None where missing, and where unreadable too, unless
    ``keep_invalid`` keeps the text so the normalized schema can name the problem."""
    texts = _decimal_text(s).tolist()
    values = [_decimal(v) for v in texts]
    if keep_invalid:
        values = [v if v is not None else t for v, t in zip(values, texts, strict=True)]
    return pd.Series(values, index=s.index, dtype="object")


def _text(s: pd.Series, lower: bool = False) -> pd.Series:
    out = clean_text(s)
    return (out.str.lower() if lower else out).fillna("")


def normalize_line_items(items: pd.DataFrame, charge_start: pd.Series) -> pd.DataFrame:
    """Map FOCUS-vocabulary line items to the normalized columns; nothing is dropped here
    (values that do not parse become missing and the normalized schema names them)."""
    billed = to_decimals(items["BilledCost"], keep_invalid=True)
    effective = to_decimals(items["EffectiveCost"], keep_invalid=True)
    usage_date = utc_dates(charge_start)
    period = items["BillingPeriodStart"]
    period = (
        period if isinstance(period.dtype, pd.DatetimeTZDtype) else pd.to_datetime(period, utc=True)
    )
    period_date = utc_dates(period.dt.as_unit("us"))
    out = pd.DataFrame(
        {
            "usage_date": usage_date,
            "provider": _text(items["ProviderName"], lower=True),
            "billing_account_id": _text(items["BillingAccountId"]),
            "sub_account_id": _text(items["SubAccountId"]),
            "service_name": _text(items["ServiceName"]),
            "resource_type": _text(items["ResourceType"]),
            "region": _text(items["RegionId"], lower=True),
            "charge_category": _text(items["ChargeCategory"]),
            "billing_currency": _text(items["BillingCurrency"]).str.upper(),
            "billed_cost": billed,
            # An export without an amortized figure: the billed cost is the effective cost.
            "effective_cost": effective.where(effective.notna(), billed),
            "consumed_quantity": to_decimals(items["ConsumedQuantity"]),
            "consumed_unit": _text(items["ConsumedUnit"]),
            # No billing period (seed 001's GPU export): each day is its own period.
            "billing_period_start": period_date.where(period_date.notna(), usage_date),
        },
        index=items.index,
    )
    return out


def _sum(values: pd.Series):
    present = [v for v in values if v is not None]
    return sum(present[1:], start=present[0]) if present else None


def _quantity(group: pd.DataFrame) -> tuple:
    units = set(group["consumed_unit"]) - {""}
    if len(units) > 1:
        return None, MIXED_UNITS
    return _sum(group["consumed_quantity"]), next(iter(units), "")


# Exact decimal sums in Arrow: 38 digits, 18 of them after the point.
ARROW_DECIMAL = pa.decimal128(38, 18)


def _arrow_rollup(items: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The roll-up as one Arrow group-by; raises ArrowInvalid for an amount with more than
    18 decimal places (or 20 integer digits), which the exact Python roll-up then handles."""
    table = pa.table(
        {
            **{c: pa.array(items[c].to_numpy(dtype=object), from_pandas=True) for c in columns},
            "billed_cost": pa.array(items["billed_cost"].tolist(), type=ARROW_DECIMAL),
            "effective_cost": pa.array(items["effective_cost"].tolist(), type=ARROW_DECIMAL),
            "consumed_quantity": pa.array(items["consumed_quantity"].tolist(), type=ARROW_DECIMAL),
            "unit": pa.array(
                items["consumed_unit"].replace("", None).to_numpy(dtype=object), from_pandas=True
            ),
            "billing_period_start": pa.array(items["billing_period_start"].tolist()),
        }
    )
    grouped = table.group_by(columns, use_threads=False).aggregate(
        [
            ("billed_cost", "sum"),
            ("effective_cost", "sum"),
            ("consumed_quantity", "sum"),
            ("unit", "count_distinct", pc.CountOptions(mode="only_valid")),
            ("unit", "min"),
            ("billed_cost", "count"),
            ("billing_period_start", "max"),
        ]
    )
    out = {c: grouped[c].to_pylist() for c in columns}
    mixed = np.asarray(grouped["unit_count_distinct"].to_pylist()) > 1
    quantity = grouped["consumed_quantity_sum"].to_pylist()
    unit = [u or "" for u in grouped["unit_min"].to_pylist()]
    out |= {
        "billed_cost": grouped["billed_cost_sum"].to_pylist(),
        "effective_cost": grouped["effective_cost_sum"].to_pylist(),
        "consumed_quantity": [None if m else q for q, m in zip(quantity, mixed, strict=True)],
        "consumed_unit": [MIXED_UNITS if m else u for u, m in zip(unit, mixed, strict=True)],
        "line_items": grouped["billed_cost_count"].to_pylist(),
        "billing_period_start": grouped["billing_period_start_max"].to_pylist(),
    }
    return pd.DataFrame(out).sort_values(columns, ignore_index=True)


def _python_rollup(items: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    rows = []
    for key, group in items.groupby(columns, sort=True, dropna=False):
        quantity, unit = _quantity(group)
        rows.append(
            (
                *key,
                _sum(group["billed_cost"]),
                _sum(group["effective_cost"]),
                quantity,
                unit,
                len(group),
                group["billing_period_start"].max(),
            )
        )
    return pd.DataFrame(rows, columns=[*columns, *ROLLED_UP])


def rollup(items: pd.DataFrame) -> pd.DataFrame:
    """One row per natural key and day: billed and effective cost summed exactly; the
    consumed quantity summed when the line items share one unit (else unit ``(mixed)``). A
    key's line items may straddle two billing periods: the row names the later one.

    ``items`` must hold one billing currency per key (the caller rejects the others).
    """
    columns = [*SNAPSHOT_KEY, "billing_currency"]
    if items.empty:
        return pd.DataFrame(columns=[*columns, *ROLLED_UP])
    try:
        return _arrow_rollup(items, columns)
    except (pa.ArrowInvalid, OverflowError):
        return _python_rollup(items, columns)


__all__ = ["KEY_TEXT_COLUMNS", "MIXED_UNITS", "normalize_line_items", "rollup", "to_decimals"]
