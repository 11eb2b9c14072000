"""costsync's own record format (seed 000's cost-data webhook body, extended).

Accepted as a JSON envelope ``{"records": [...]}`` (or a bare list), JSON Lines, CSV and
Parquet. Token buckets are already disjoint: ``input_tokens`` excludes cache reads and writes.
"""

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.usage.base import RECORD_COLUMNS, UsageFormat

TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def _optional(*checks: pa.Check) -> pa.Column:
    return pa.Column(None, checks=list(checks), nullable=True, required=False)


RAW_SCHEMA = pa.DataFrameSchema(
    {
        "request_id": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "timestamp": pa.Column(None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False),
        **{c: _optional(ck.INTEGER) for c in TOKEN_COLUMNS},
        "cost": _optional(ck.DECIMAL),
        "downgraded": _optional(ck.BOOLEAN),
    },
    name="costsync_records_raw",
    strict=False,
)


def _matches(columns: set[str]) -> bool:
    distinctive = {"request_id", "input_tokens", "output_tokens", "timestamp", "provider"}
    return len(columns & distinctive) >= 2


def to_records(raw: pd.DataFrame) -> pd.DataFrame:
    out = {
        c: raw[c] if c in raw.columns else pd.Series(pd.NA, index=raw.index) for c in RECORD_COLUMNS
    }
    return pd.DataFrame(out, index=raw.index)


FORMAT = UsageFormat(
    name="costsync",
    containers=frozenset({"json", "jsonl", "csv", "parquet"}),
    matches=_matches,
    required_columns=("request_id", "timestamp"),
    timestamp_column="timestamp",
    key_column="request_id",
    raw_schema=RAW_SCHEMA,
    to_records=to_records,
    priority=100,
)
