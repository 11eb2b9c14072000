"""The normalized stage of cloud billing: line items in the ``cost_snapshots`` vocabulary,
before they roll up to one row per natural key and day."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import pandas as pd
import pandera.pandas as pa
import pyarrow
from pandera.typing import Series

from costsync_pipeline.schemas.usage import ISO_4217
from costsync_pipeline.sources.cloud.base import CHARGE_CATEGORIES

# The natural key of cost_snapshots (data contract), without the day.
KEY_TEXT_COLUMNS = (
    "provider",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "resource_type",
    "region",
    "charge_category",
)
SNAPSHOT_KEY = ("usage_date", *KEY_TEXT_COLUMNS)


def _is_decimal(s: pd.Series) -> pd.Series:
    return s.map(lambda v: isinstance(v, Decimal) and v.is_finite()).astype(bool)


class NormalizedLineItem(pa.DataFrameModel):
    """One billing line item, normalized: UTC day, FOCUS charge category, exact decimals."""

    usage_date: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(
        description="UTC day the line item's charge period starts on."
    )
    provider: Series[str] = pa.Field(
        str_length={"min_value": 1}, description="Provider, lower-case and trimmed (aws)."
    )
    billing_account_id: Series[str] = pa.Field(description="'' when the export has none.")
    sub_account_id: Series[str] = pa.Field()
    service_name: Series[str] = pa.Field()
    resource_type: Series[str] = pa.Field(description="GPU type (a100) for GPU line items.")
    region: Series[str] = pa.Field(description="Region id, lower-case.")
    charge_category: Series[str] = pa.Field(
        isin=list(CHARGE_CATEGORIES), description="FOCUS ChargeCategory."
    )
    billing_currency: Series[str] = pa.Field(description="ISO 4217 code of billed_cost.")
    billed_cost: Series[object] = pa.Field(description="Decimal, in billing_currency.")
    effective_cost: Series[object] = pa.Field(description="Decimal, amortized cost.")
    consumed_quantity: Series[object] = pa.Field(nullable=True)
    consumed_unit: Series[str] = pa.Field()
    billing_period_start: Series[Annotated[pd.ArrowDtype, pyarrow.date32()]] = pa.Field(
        description="First day of the billing period a re-issued export replaces."
    )

    @pa.check("billing_currency", name="iso_4217", error="not an ISO 4217 currency code")
    def _currency(cls, s: Series[str]) -> Series[bool]:
        return s.isin(ISO_4217)

    @pa.check(
        "billed_cost",
        "effective_cost",
        name="decimal",
        error="not a decimal amount below 10^12 in magnitude",
    )
    def _decimal(cls, s: Series[object]) -> Series[bool]:
        return _is_decimal(s)

    @pa.check(
        *KEY_TEXT_COLUMNS,
        "consumed_unit",
        name="no_nul_character",
        error="contains a NUL character (PostgreSQL text cannot hold it)",
    )
    def _no_nul(cls, s: Series[str]) -> Series[bool]:
        return ~s.str.contains("\x00", regex=False).fillna(False).astype(bool)

    class Config:
        name = "cost_line_items_normalized"
        strict = False
        coerce = False
