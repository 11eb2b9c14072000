"""Azure Enterprise Agreement cost exports (Cost Management "usage details"), as CSV.

One row per meter, resource and day. ``Date`` is a calendar day, written ``M/D/YYYY`` in EA
exports (``9/2/2023``) and ``YYYY-MM-DD`` in newer ones; nothing else is accepted, since a
two-digit year or a day-first date cannot be told apart from a wrong one. Amounts may be in
scientific notation (``5.64902E-05``). An EA export has no amortized cost, so the effective
cost is the billed one. Cost Management always exports English column names; a file with
German ones was saved from the portal's localized view and is refused with that explanation.
"""

from __future__ import annotations

import unicodedata

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.cloud.base import LINE_ITEM_COLUMNS, CloudFormat
from costsync_pipeline.sources.cloud.gpu import gpu_types

_MDY = r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})$"
_YMD = r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})$"


def parse_azure_dates(s: pd.Series) -> pd.Series:
    """``M/D/YYYY`` or ``YYYY-MM-DD`` as UTC midnight (NaT where neither, or no such day)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return ck.to_utc(s)
    text = s.astype("str").str.strip()
    parts = text.str.extract(_MDY).fillna(text.str.extract(_YMD))
    parts = parts[["year", "month", "day"]].astype("float64")
    days = pd.to_datetime(parts, errors="coerce")
    return days.dt.tz_localize("UTC").dt.as_unit("us")


AZURE_DATE = pa.Check(
    lambda s: ck.blank_mask(s) | parse_azure_dates(s).notna(),
    name="azure_date",
    error="not a date as M/D/YYYY or YYYY-MM-DD",
)

# ChargeType -> FOCUS ChargeCategory (unused reservations and savings plans are still usage).
CHARGE_TYPES = {
    "Usage": "Usage",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "Purchase": "Purchase",
    "Refund": "Adjustment",
    "RoundingAdjustment": "Adjustment",
    "Tax": "Tax",
    "Credit": "Credit",
}
# Each charge type's FOCUS category, whatever the case (NA where blank or unknown).
_charge_categories = ck.vocabulary_lookup(CHARGE_TYPES)
KNOWN_CHARGE_TYPE = ck.known_words(
    CHARGE_TYPES, "known_charge_type", f"not a known Azure charge type ({', '.join(CHARGE_TYPES)})"
)

RAW_SCHEMA = pa.DataFrameSchema(
    {
        "Date": pa.Column(None, checks=[ck.NOT_BLANK, AZURE_DATE], nullable=False),
        "BillingPeriodStartDate": pa.Column(
            None, checks=[ck.NOT_BLANK, AZURE_DATE], nullable=False
        ),
        "CostInBillingCurrency": pa.Column(None, checks=[ck.NOT_BLANK, ck.DECIMAL], nullable=False),
        "Quantity": pa.Column(None, checks=[ck.DECIMAL], nullable=True, required=False),
        "BillingCurrencyCode": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "ChargeType": pa.Column(None, checks=[ck.NOT_BLANK, KNOWN_CHARGE_TYPE], nullable=False),
    },
    name="azure_ea_raw",
    strict=False,
)


def to_line_items(raw: pd.DataFrame) -> pd.DataFrame:
    na = pd.Series(pd.NA, index=raw.index, dtype="object")
    column = lambda name: raw[name] if name in raw.columns else na  # noqa: E731
    # Meters name the VM size ("NC24ads A100 v4"); AdditionalInfo's ServiceType holds the
    # ARM size name ("Standard_NC24ads_A100_v4") the GPU table is keyed on.
    names = ("MeterName", "ProductName", "MeterSubCategory", "AdditionalInfo")
    gpu = gpu_types(*(column(c) for c in names))
    cost = raw["CostInBillingCurrency"]
    out = {c: na for c in LINE_ITEM_COLUMNS}
    out |= {
        "ProviderName": "Microsoft",
        "BillingAccountId": column("BillingAccountId"),
        "SubAccountId": column("SubscriptionId"),
        "ServiceName": column("MeterCategory"),
        # Resource provider names are case-insensitive and exports mix the cases
        # (microsoft.compute, Microsoft.Compute): one spelling keeps them one key.
        "ResourceType": gpu.where(
            gpu.notna(), column("ConsumedService").astype("str").str.strip().str.lower()
        ),
        "RegionId": column("ResourceLocation"),
        "ChargeCategory": _charge_categories(raw["ChargeType"]),
        "BillingCurrency": raw["BillingCurrencyCode"],
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ConsumedQuantity": column("Quantity"),
        "ConsumedUnit": column("UnitOfMeasure"),
        "BillingPeriodStart": parse_azure_dates(raw["BillingPeriodStartDate"]),
    }
    return pd.DataFrame(out, index=raw.index)


# Column names of a cost export saved from the portal in German.
_GERMAN = {"abonnement-id", "verbrauchter dienst", "ressourcenstandort", "messgerätkategorie"}


def describe_mismatch(columns: set[str]) -> str | None:
    names = {unicodedata.normalize("NFC", c).strip().casefold() for c in columns}
    german = any("abrechnung" in c or "kosten" in c for c in names) or bool(names & _GERMAN)
    if german or {"datum", "menge"} <= names:
        return (
            "looks like an Azure cost export with localized (German) column names; export it "
            "with English column names (Cost Management exports are always in English)"
        )
    return None


FORMAT = CloudFormat(
    name="azure_ea",
    containers=frozenset({"csv"}),
    matches=lambda columns: {"CostInBillingCurrency", "BillingCurrencyCode"} <= columns,
    required_columns=(
        "Date",
        "CostInBillingCurrency",
        "BillingCurrencyCode",
        "ChargeType",
        "BillingPeriodStartDate",
    ),
    timestamp_column="Date",
    cost_column="CostInBillingCurrency",
    raw_schema=RAW_SCHEMA,
    to_line_items=to_line_items,
    parse_timestamps=parse_azure_dates,
    describe_mismatch=describe_mismatch,
)
