"""The normalized stage: rows exactly as they are written to ``usage_costs``."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import pandera.pandas as pa
import pyarrow
import pycountry
from pandera.typing import Series

ISO_4217 = frozenset(c.alpha_3 for c in pycountry.currencies)
SERVICE_TIERS = ("standard", "batch", "priority", "flex")


def _trimmed_lower(s: pd.Series) -> pd.Series:
    # Providers and models repeat: test each distinct value once.
    bad = [v for v in s.dropna().unique() if v != v.strip().lower()]
    return ~s.isin(bad)


def _non_negative_decimal(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce") >= 0


class NormalizedUsage(pa.DataFrameModel):
    """One LLM request, normalized: lower-case provider/model, UTC, disjoint token buckets."""

    request_id: Series[str] = pa.Field(
        str_length={"min_value": 1}, description="Natural key of the request, unique per row."
    )
    source: Series[str] = pa.Field(description="Format and container the row came from.")
    occurred_at: Series[Annotated[pd.DatetimeTZDtype, "us", "UTC"]] = pa.Field(
        description="When the request happened, UTC (naive input taken as UTC)."
    )
    usage_date: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(
        description="UTC calendar day of occurred_at."
    )
    organization_id: Series[str] = pa.Field(nullable=True)
    team_id: Series[str] = pa.Field(nullable=True)
    user_id: Series[str] = pa.Field(nullable=True)
    workflow_id: Series[str] = pa.Field(nullable=True)
    provider: Series[str] = pa.Field(
        str_length={"min_value": 1}, description="Provider, lower-case and trimmed."
    )
    model: Series[str] = pa.Field(
        str_length={"min_value": 1}, description="Model, lower-case and trimmed."
    )
    original_model: Series[str] = pa.Field(nullable=True)
    downgraded: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    budget_status: Series[str] = pa.Field(nullable=True)
    service_tier: Series[str] = pa.Field(description="standard, batch, priority or flex.")
    input_tokens: Series[pd.Int64Dtype] = pa.Field(
        description="Uncached input tokens (cache reads and writes excluded)."
    )
    cache_read_tokens: Series[pd.Int64Dtype] = pa.Field()
    cache_write_tokens: Series[pd.Int64Dtype] = pa.Field()
    output_tokens: Series[pd.Int64Dtype] = pa.Field(description="Reasoning included.")
    reasoning_tokens: Series[pd.Int64Dtype] = pa.Field()
    reported_cost: Series[str] = pa.Field(nullable=True, description="Decimal text, as reported.")
    reported_currency: Series[str] = pa.Field(nullable=True, description="ISO 4217 code.")
    source_file: Series[str] = pa.Field(str_length={"min_value": 64, "max_value": 64})
    source_row: Series[pd.Int64Dtype] = pa.Field(ge=1)

    @pa.check("provider", "model", name="trimmed_lower_case", error="not trimmed lower-case")
    def _lower(cls, s: Series[str]) -> Series[bool]:
        return _trimmed_lower(s)

    @pa.check(
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        name="non_negative",
        error="must not be negative",
    )
    def _tokens(cls, s: Series[pd.Int64Dtype]) -> Series[bool]:
        return s >= 0

    @pa.check(
        "request_id",
        "organization_id",
        "team_id",
        "user_id",
        "workflow_id",
        "provider",
        "model",
        "original_model",
        "budget_status",
        name="no_nul_character",
        error="contains a NUL character (PostgreSQL text cannot hold it)",
    )
    def _no_nul(cls, s: Series[str]) -> Series[bool]:
        return ~s.str.contains("\x00", regex=False).fillna(False).astype(bool)

    @pa.check("reported_currency", name="iso_4217", error="not an ISO 4217 currency code")
    def _currency(cls, s: Series[str]) -> Series[bool]:
        return s.isin(ISO_4217)

    @pa.check(
        "service_tier",
        name="known_service_tier",
        error="not a service tier (standard, batch, priority, flex)",
    )
    def _tier(cls, s: Series[str]) -> Series[bool]:
        return s.isin(SERVICE_TIERS)

    @pa.check("reported_cost", name="non_negative_cost", error="cost is negative")
    def _cost(cls, s: Series[str]) -> Series[bool]:
        return _non_negative_decimal(s)

    @pa.dataframe_check(
        name="reasoning_within_output", error="reasoning_tokens exceed output_tokens"
    )
    def _reasoning_within_output(cls, df: pd.DataFrame) -> Series[bool]:
        return df["reasoning_tokens"] <= df["output_tokens"]

    class Config:
        name = "usage_costs_normalized"
        strict = False
        coerce = False
