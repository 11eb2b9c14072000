"""Rejections every kind of export shares: lines that could not be parsed, rows outside the
partitions."""

from __future__ import annotations

import pandas as pd

from costsync_pipeline.landing.routing import partition_range
from costsync_pipeline.sources.containers import ROW
from costsync_pipeline.sources.formats import ExportFile
from costsync_pipeline.transforms.rejections import raw_json

REJECTION_COLUMNS = (
    "row_number",
    "stage",
    "column",
    "check",
    "value",
    "reason",
    "request_id",
    "raw",
)


def unreadable_rows(export: ExportFile) -> pd.DataFrame:
    errs = export.table.row_errors
    return pd.DataFrame(
        {
            "row_number": [e.row for e in errs],
            "stage": "read",
            "column": "",
            "check": "parse",
            "value": None,
            "reason": [e.reason for e in errs],
            "request_id": None,
            "raw": [e.raw for e in errs],
        }
    )


def outside_partitions(export: ExportFile, rows: pd.DataFrame, received_day) -> pd.DataFrame:
    """Rows dated before the first partition or after the day their file was received."""
    fmt, frame = export.format, export.table.frame
    first, last = partition_range(received_day)
    col = fmt.timestamp_column
    return pd.DataFrame(
        {
            "row_number": rows[ROW].to_numpy(),
            "stage": "raw",
            "column": col,
            "check": "within_partitions",
            "value": rows[col].astype("str").to_numpy(),
            "reason": f"{col}: not between {first} and the day the file was received, {last}",
            "request_id": rows[fmt.key_column].astype("str").to_numpy() if fmt.key_column else None,
            "raw": rows[ROW].map(raw_json(frame, rows[ROW])).to_numpy(),
        }
    )


def empty_rejections() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECTION_COLUMNS})


def reasons(rejected: pd.DataFrame) -> dict[str, int]:
    """Rows rejected per reason (a row that broke several rules counts once, for its first)."""
    if rejected.empty:
        return {}
    first = rejected.drop_duplicates(["file_checksum", "row_number"])["reason"]
    return {str(k): int(v) for k, v in first.value_counts().items()}


def utc(value) -> pd.Timestamp:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
