"""What a usage export format module provides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.sources.containers import RawTable

# The costsync record vocabulary every format maps to (see the data contract).
RECORD_COLUMNS = (
    "request_id",
    "user_id",
    "organization_id",
    "team_id",
    "workflow_id",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "currency",
    "timestamp",
    "original_model",
    "downgraded",
    "budget_status",
    "service_tier",
)


@dataclass(frozen=True)
class UsageFormat:
    """A usage export format.

    ``raw_schema`` validates rows as received, in the file's own column names, so a rejection
    names the column the sender wrote. ``to_records`` maps rows that passed it to the costsync
    record vocabulary (``RECORD_COLUMNS``, any missing optional column as NA); token buckets
    must come out disjoint: ``input_tokens`` without cache reads or writes.
    ``timestamp_column`` routes rows to daily partitions before anything else is parsed.
    """

    name: str
    containers: frozenset[str]
    matches: Callable[[set[str]], bool]
    required_columns: tuple[str, ...]
    timestamp_column: str
    key_column: str
    raw_schema: pa.DataFrameSchema
    to_records: Callable[[pd.DataFrame], pd.DataFrame]
    priority: int = 100


@dataclass
class UsageFile:
    name: str
    format: UsageFormat
    table: RawTable

    @property
    def source(self) -> str:
        return f"{self.format.name}.{self.table.container}"
