"""Seed 001's GPU cost export: daily cost per provider and GPU type.

JSON records of ``date``, ``provider``, ``gpu_type`` and ``cost_usd``, in an envelope
(``{"cost_data": [...]}`` or ``{"records": [...]}``) or as a bare list; also as JSON Lines or
CSV. Each record is one day's Usage charge in US dollars; the export has no billing period,
so a re-issued file replaces the days (per provider) it covers, and a record repeated in one
file is a correction (the later one wins).
"""

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.cloud.base import LINE_ITEM_COLUMNS, CloudFormat
from costsync_pipeline.sources.cloud.gpu import GPU_NAME

RAW_SCHEMA = pa.DataFrameSchema(
    {
        "date": pa.Column(None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False),
        "provider": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "gpu_type": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "cost_usd": pa.Column(None, checks=[ck.NOT_BLANK, ck.DECIMAL], nullable=False),
    },
    name="gpu_cost_export_raw",
    strict=False,
)


def gpu_names(s: pd.Series) -> pd.Series:
    """Lower-case GPU types; a marketing name such as "NVIDIA H100 80GB" becomes ``h100``."""
    text = s.astype("str").str.strip().str.lower()
    found = text.str.extract(GPU_NAME, expand=False)
    return found.where(found.notna(), text)


def to_line_items(raw: pd.DataFrame) -> pd.DataFrame:
    na = pd.Series(pd.NA, index=raw.index, dtype="object")
    out = {c: na for c in LINE_ITEM_COLUMNS}
    out |= {
        "ProviderName": raw["provider"],
        "ResourceType": gpu_names(raw["gpu_type"]),
        "ChargeCategory": "Usage",
        "BillingCurrency": "USD",
        "BilledCost": raw["cost_usd"],
        "EffectiveCost": raw["cost_usd"],
        "BillingPeriodStart": pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]"),
    }
    return pd.DataFrame(out, index=raw.index)


FORMAT = CloudFormat(
    name="gpu_cost_export",
    containers=frozenset({"json", "jsonl", "csv"}),
    matches=lambda columns: {"gpu_type", "cost_usd"} <= columns,
    required_columns=("date", "provider", "gpu_type", "cost_usd"),
    timestamp_column="date",
    cost_column="cost_usd",
    raw_schema=RAW_SCHEMA,
    to_line_items=to_line_items,
    priority=50,
    one_record_per_key=True,
)
