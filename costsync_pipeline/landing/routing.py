"""Routing usage rows to daily partitions: the UTC day of each row's timestamp."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from costsync_pipeline.partitions import PARTITIONS_START
from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.containers import UnreadableFile
from costsync_pipeline.sources.usage import UsageFile, read_usage_file
from costsync_pipeline.transforms.normalize import utc_dates

KIND = "usage"


@dataclass(frozen=True)
class FileInspection:
    """What the sensor needs to know about a file: its format and the days it touches."""

    source: str
    rows_read: int
    dates: tuple[dt.date, ...]


def row_dates(usage_file: UsageFile) -> pd.Series:
    ts = ck.to_utc(usage_file.table.frame[usage_file.format.timestamp_column])
    return utc_dates(ts)


def partition_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day a row may belong to (today's partition exists, tomorrow's not)."""
    return dt.date.fromisoformat(PARTITIONS_START), today


def inspect_usage_file(data: bytes, name: str, today: dt.date) -> FileInspection:
    """Read a file far enough to route it; raises UnreadableFile when it cannot be landed."""
    usage_file = read_usage_file(data, name)
    first, last = partition_range(today)
    dates = [d for d in row_dates(usage_file).dropna().unique() if first <= d <= last]
    if not dates:
        col = usage_file.format.timestamp_column
        raise UnreadableFile(
            f"{name}: no row has a readable timestamp between {first} and {last} in column {col!r}"
        )
    return FileInspection(usage_file.source, usage_file.table.rows_read, tuple(sorted(dates)))
