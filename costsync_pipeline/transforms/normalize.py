"""Normalize usage records (costsync vocabulary) into ``usage_costs`` rows."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.containers import ROW

TOKEN_COLUMNS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)
ID_COLUMNS = ("organization_id", "team_id", "user_id", "workflow_id")
DEFAULT_CURRENCY = "USD"
DEFAULT_SERVICE_TIER = "standard"


@dataclass(frozen=True)
class NormalizeStats:
    naive_timestamps: int
    currency_defaulted: int


def clean_text(s: pd.Series) -> pd.Series:
    """Trimmed text with blanks as missing, in pandas' (Arrow-backed) string dtype."""
    out = s.astype("str").str.strip()
    return out.where(~out.isin(ck.MISSING_VARIANTS))


def _decimal_text(s: pd.Series) -> pd.Series:
    """Decimal text exactly as written (floats from typed containers in shortest form)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        # Arrow prints the shortest text that reads back as the same double.
        text = pa.array(s.to_numpy(dtype="float64", na_value=float("nan")), from_pandas=True)
        return pd.Series(
            pd.arrays.ArrowStringArray(text.cast(pa.large_string())), index=s.index
        ).astype("str")
    return clean_text(s).str.lstrip("+")


def utc_dates(occurred_at: pd.Series) -> pd.Series:
    """The UTC calendar day of each timestamp, as Arrow date32."""
    days = occurred_at.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")
    arr = pa.array(days.to_numpy(), type=pa.timestamp("us")).cast(pa.date32())
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=occurred_at.index)


def normalize_usage(
    records: pd.DataFrame,
    *,
    source: str,
    file_checksum: str,
    received_at: pd.Timestamp,
    occurred_at: pd.Series | None = None,
) -> tuple[pd.DataFrame, NormalizeStats]:
    """Map records in the costsync vocabulary to ``usage_costs`` columns.

    Values that do not parse become missing here and are caught by the normalized schema,
    which names the column; nothing is dropped in this function.
    """
    idx = records.index
    occurred = ck.to_utc(records["timestamp"]) if occurred_at is None else occurred_at
    cost = _decimal_text(records["cost"])
    currency = clean_text(records["currency"]).str.upper()
    defaulted = currency.isna() & cost.notna()
    currency = currency.where(~defaulted, DEFAULT_CURRENCY)
    tier = clean_text(records["service_tier"]).str.lower().fillna(DEFAULT_SERVICE_TIER)
    out = {
        "request_id": clean_text(records["request_id"]),
        "source": pd.Series(source, index=idx, dtype="str"),
        "occurred_at": occurred,
        "usage_date": utc_dates(occurred),
        **{c: clean_text(records[c]) for c in ID_COLUMNS},
        "provider": clean_text(records["provider"]).str.lower(),
        "model": clean_text(records["model"]).str.lower(),
        "original_model": clean_text(records["original_model"]),
        "downgraded": ck.to_bool(records["downgraded"]),
        "budget_status": clean_text(records["budget_status"]),
        "service_tier": tier,
    }
    for col in TOKEN_COLUMNS:
        n = ck.to_number(records[col]).fillna(0)
        out[col] = n.round().astype("Int64")
    usd = currency == DEFAULT_CURRENCY
    out.update(
        {
            "reported_cost": cost,
            "reported_currency": currency.where(cost.notna()),
            # FX conversion of other currencies arrives with the price tables.
            "reported_cost_usd": cost.where(usd.fillna(False).astype(bool)),
            "computed_cost_usd": pd.Series(pd.NA, index=idx, dtype="str"),
            "price_version": pd.Series(pd.NA, index=idx, dtype="str"),
            "source_file": pd.Series(file_checksum, index=idx, dtype="str"),
            "source_row": records[ROW].astype("Int64"),
            "source_received_at": pd.Series(received_at, index=idx).dt.as_unit("us"),
        }
    )
    out["cost_usd"] = out["reported_cost_usd"]
    stats = NormalizeStats(
        naive_timestamps=int(ck.naive_mask(records["timestamp"]).sum()),
        currency_defaulted=int(defaulted.sum()),
    )
    return pd.DataFrame(out, index=idx), stats
