"""AWS Cost and Usage Reports (legacy CUR), as CSV: ``lineItem/UnblendedCost`` style columns.

A CUR names its columns ``category/Name`` and writes one row per line item and hour (or day);
monthly items (tax, fees) start on the first of the month and count on that day. The
``lineItem/LineItemType`` says what kind of charge a row is; types this module does not know
are rejected rather than guessed at, since a wrong charge category misstates spend.

The effective (amortized) cost follows AWS's own CUR-to-FOCUS mapping: covered usage carries
its share of the reservation or savings plan, so the negation and the upfront and recurring
fees count only what went unused; without that, amortized spend would count commitments twice.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.cloud.base import LINE_ITEM_COLUMNS, CloudFormat
from costsync_pipeline.sources.cloud.gpu import gpu_types

# lineItem/LineItemType -> FOCUS ChargeCategory.
LINE_ITEM_TYPES = {
    kind: category
    for category, kinds in {
        "Usage": ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"),
        "Tax": ("Tax",),
        "Credit": ("Credit",),
        "Purchase": ("Fee", "RIFee", "SavingsPlanRecurringFee", "SavingsPlanUpfrontFee"),
        "Adjustment": (
            "Refund",
            "Discount",
            "BundledDiscount",
            "EdpDiscount",
            "PrivateRateDiscount",
            "SavingsPlanNegation",
            "DistributorDiscount",
        ),
    }.items()
    for kind in kinds
}
# Each line item type as AWS spells it, whatever the case (NA where blank or unknown).
_line_item_types = ck.vocabulary_lookup({k: k for k in LINE_ITEM_TYPES})
KNOWN_LINE_ITEM_TYPE = ck.known_words(
    {k: k for k in LINE_ITEM_TYPES},
    "known_line_item_type",
    f"not a known CUR line item type ({', '.join(LINE_ITEM_TYPES)})",
)

_AMOUNTS = (
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
)

RAW_SCHEMA = pa.DataFrameSchema(
    {
        "lineItem/UnblendedCost": pa.Column(
            None, checks=[ck.NOT_BLANK, ck.DECIMAL], nullable=False
        ),
        "lineItem/LineItemType": pa.Column(
            None, checks=[ck.NOT_BLANK, KNOWN_LINE_ITEM_TYPE], nullable=False
        ),
        "lineItem/UsageStartDate": pa.Column(
            None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False
        ),
        "bill/BillingPeriodStartDate": pa.Column(
            None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False
        ),
        "lineItem/CurrencyCode": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "lineItem/UsageAmount": pa.Column(None, checks=[ck.DECIMAL], nullable=True, required=False),
    }
    | {c: pa.Column(None, checks=[ck.DECIMAL], nullable=True, required=False) for c in _AMOUNTS},
    name="aws_cur_raw",
    strict=False,
)


def _amount(value) -> Decimal:
    text = "" if value is None or value is pd.NA else str(value).strip()
    if text.lower() in ck.MISSING_TEXT:
        return Decimal(0)
    try:
        return Decimal(text)
    except InvalidOperation:  # raw validation has rejected the row already
        return Decimal(0)


def _difference(a: pd.Series, b: pd.Series, sign: int) -> pd.Series:
    """a + sign * b as decimal text, exact (blank counts as zero)."""
    pairs = zip(a.tolist(), b.tolist(), strict=True)
    return pd.Series([str(_amount(x) + sign * _amount(y)) for x, y in pairs], index=a.index)


def to_line_items(raw: pd.DataFrame) -> pd.DataFrame:
    na = pd.Series(pd.NA, index=raw.index, dtype="object")
    column = lambda name: raw[name] if name in raw.columns else na  # noqa: E731
    fallback = lambda a, b: column(a).where(~ck.blank_mask(column(a)), column(b))  # noqa: E731
    kind = _line_item_types(raw["lineItem/LineItemType"])
    unblended = raw["lineItem/UnblendedCost"]
    effective = unblended.astype("object").copy()
    sp, ri = "savingsPlan/", "reservation/"
    amortized = {
        "DiscountedUsage": column(f"{ri}EffectiveCost"),
        "SavingsPlanCoveredUsage": column(f"{sp}SavingsPlanEffectiveCost"),
        "SavingsPlanNegation": "0",
        "SavingsPlanUpfrontFee": "0",
    }
    # Fees count only what went unused, when the report has the columns that say so.
    for name, (a, b, sign) in {
        "RIFee": (f"{ri}UnusedAmortizedUpfrontFeeForBillingPeriod", f"{ri}UnusedRecurringFee", 1),
        "SavingsPlanRecurringFee": (f"{sp}TotalCommitmentToDate", f"{sp}UsedCommitment", -1),
    }.items():
        if {a, b} <= set(raw.columns):
            amortized[name] = _difference(raw[a], raw[b], sign)
    is_kind = lambda name: (kind == name).fillna(False).astype(bool)  # noqa: E731
    for name, value in amortized.items():
        effective = effective.mask(is_kind(name), value)
    # An upfront reservation fee is amortized into the reservation's discounted usage.
    upfront = is_kind("Fee") & ~ck.blank_mask(column(f"{ri}ReservationARN"))
    effective = effective.mask(upfront, "0")
    instance = [raw[c] for c in ("product/instanceType", "lineItem/UsageType") if c in raw]
    gpu = gpu_types(*instance) if instance else na
    out = {c: na for c in LINE_ITEM_COLUMNS}
    out |= {
        "ProviderName": "AWS",
        "BillingAccountId": column("bill/PayerAccountId"),
        "SubAccountId": column("lineItem/UsageAccountId"),
        "ServiceName": fallback("product/ProductName", "lineItem/ProductCode"),
        "ResourceType": gpu.where(
            gpu.notna(), column("product/productFamily").astype("str").str.strip()
        ),
        "RegionId": fallback("product/regionCode", "product/region"),
        "ChargeCategory": kind.map(LINE_ITEM_TYPES),
        "BillingCurrency": raw["lineItem/CurrencyCode"],
        "BilledCost": unblended,
        "EffectiveCost": effective,
        "ConsumedQuantity": column("lineItem/UsageAmount"),
        "ConsumedUnit": column("pricing/unit"),
        "BillingPeriodStart": ck.to_utc(raw["bill/BillingPeriodStartDate"]),
    }
    return pd.DataFrame(out, index=raw.index)


FORMAT = CloudFormat(
    name="aws_cur",
    containers=frozenset({"csv"}),
    matches=lambda columns: {"lineItem/UnblendedCost", "lineItem/LineItemType"} <= columns,
    required_columns=(
        "lineItem/UnblendedCost",
        "lineItem/LineItemType",
        "lineItem/UsageStartDate",
        "lineItem/CurrencyCode",
        "bill/BillingPeriodStartDate",
    ),
    timestamp_column="lineItem/UsageStartDate",
    cost_column="lineItem/UnblendedCost",
    raw_schema=RAW_SCHEMA,
    to_line_items=to_line_items,
)
