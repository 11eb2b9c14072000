"""What a usage export format module provides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from costsync_pipeline.sources.formats import ExportFormat

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


@dataclass(frozen=True, kw_only=True)
class UsageFormat(ExportFormat):
    """A usage export format. ``to_records`` maps rows that passed ``raw_schema`` to the
    costsync record vocabulary (``RECORD_COLUMNS``, any missing optional column as NA); token
    buckets must come out disjoint: ``input_tokens`` without cache reads or writes."""

    key_column: str
    to_records: Callable[[pd.DataFrame], pd.DataFrame]
