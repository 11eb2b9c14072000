"""FOCUS (FinOps Open Cost and Usage Specification) 1.0 to 1.2 exports, as CSV or Parquet.

FOCUS is the vocabulary line items are mapped to, so its columns go straight across; AWS,
Azure, Google Cloud and Oracle all write it. Only the columns FOCUS makes mandatory are
required; optional ones may be absent and provider extensions (``x_...``, or ``Id`` in the
FOCUS sample data) are ignored. Exports write ``NULL`` for missing values, which the
normalizer already reads as missing. Timestamps without an offset are UTC, as FOCUS says.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.cloud.base import CHARGE_CATEGORIES, LINE_ITEM_COLUMNS, CloudFormat
from costsync_pipeline.sources.cloud.gpu import gpu_types

# Any case and surrounding spaces -> the spelling FOCUS defines.
_canonical_category = ck.vocabulary_lookup({c: c for c in CHARGE_CATEGORIES})
KNOWN_CHARGE_CATEGORY = ck.known_words(
    {c: c for c in CHARGE_CATEGORIES},
    "known_charge_category",
    f"not a FOCUS charge category ({', '.join(CHARGE_CATEGORIES)})",
)

RAW_SCHEMA = pa.DataFrameSchema(
    {
        "BilledCost": pa.Column(None, checks=[ck.NOT_BLANK, ck.DECIMAL], nullable=False),
        "EffectiveCost": pa.Column(None, checks=[ck.DECIMAL], nullable=True, required=False),
        "ConsumedQuantity": pa.Column(None, checks=[ck.DECIMAL], nullable=True, required=False),
        "ChargePeriodStart": pa.Column(None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False),
        "BillingPeriodStart": pa.Column(None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False),
        "ChargeCategory": pa.Column(
            None, checks=[ck.NOT_BLANK, KNOWN_CHARGE_CATEGORY], nullable=False
        ),
        "ProviderName": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "BillingCurrency": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
    },
    name="focus_raw",
    strict=False,
)

# FOCUS columns that pass through unchanged (the mandatory ones are always present).
_STRAIGHT = (
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "ServiceName",
    "RegionId",
    "BillingCurrency",
    "BilledCost",
    "EffectiveCost",
    "ConsumedQuantity",
    "ConsumedUnit",
)


def to_line_items(raw: pd.DataFrame) -> pd.DataFrame:
    na = pd.Series(pd.NA, index=raw.index, dtype="object")
    column = lambda name: raw[name] if name in raw.columns else na  # noqa: E731
    out = {c: na for c in LINE_ITEM_COLUMNS}
    out |= {c: column(c) for c in _STRAIGHT}
    # FOCUS names the instance only in the charge description ("... p4d.24xlarge Instance
    # Hour"); ResourceType is the generic "instance", so the GPU type takes its place.
    gpu = gpu_types(column("ChargeDescription"))
    out |= {
        "ResourceType": gpu.where(gpu.notna(), column("ResourceType")),
        "ChargeCategory": _canonical_category(raw["ChargeCategory"]),
        "BillingPeriodStart": ck.to_utc(raw["BillingPeriodStart"]),
    }
    return pd.DataFrame(out, index=raw.index)


FORMAT = CloudFormat(
    name="focus",
    containers=frozenset({"csv", "parquet"}),
    # Column names no other export uses; BillingCurrency is required rather than matched so
    # that a FOCUS file without it is told so by name.
    matches=lambda columns: {"BilledCost", "ChargePeriodStart"} <= columns,
    required_columns=(
        "BilledCost",
        "BillingCurrency",
        "ChargePeriodStart",
        "ChargeCategory",
        "ProviderName",
        "BillingPeriodStart",
    ),
    timestamp_column="ChargePeriodStart",
    cost_column="BilledCost",
    raw_schema=RAW_SCHEMA,
    to_line_items=to_line_items,
)
