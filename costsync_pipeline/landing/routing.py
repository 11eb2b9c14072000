"""Routing rows to daily partitions: the UTC day of each row's timestamp."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costsync_pipeline.partitions import PARTITIONS_START
from costsync_pipeline.sources.containers import UnreadableFile
from costsync_pipeline.sources.formats import ExportFile
from costsync_pipeline.sources.usage import read_usage_file


@dataclass(frozen=True)
class Scope:
    """What a cloud export is the whole truth about: one provider's billing account for one
    billing period. The latest export of a scope replaces the earlier ones."""

    provider: str
    billing_account_id: str
    billing_period_start: dt.date
    first_date: dt.date  # the days the file's line items of this scope fall on
    last_date: dt.date

    @property
    def key(self) -> tuple[str, str, dt.date]:
        return (self.provider, self.billing_account_id, self.billing_period_start)


@dataclass(frozen=True)
class FileInspection:
    """What the sensor needs to know about a file: its format and the days it touches."""

    source: str
    rows_read: int
    dates: tuple[dt.date, ...]
    received_at: dt.datetime  # fixes the last day the file's rows may fall on
    scopes: tuple[Scope, ...] = ()  # cloud exports only


EPOCH = dt.date(1970, 1, 1)
NO_DAY = np.iinfo(np.int64).min


def row_timestamps(export: ExportFile) -> pd.Series:
    """Each row's timestamp in UTC (NaT where it cannot be read)."""
    return export.format.timestamps(export.table.frame)


def day_numbers(ts: pd.Series) -> np.ndarray:
    """UTC days since 1970-01-01 as integers (``NO_DAY`` for NaT): cheap to compare and
    count, unlike a million date objects."""
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    days = naive.astype("datetime64[D]").astype(np.int64)
    days[np.isnat(naive)] = NO_DAY
    return days


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(number))


def partition_range(received_day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day a row of a file received on ``received_day`` may belong to.

    An export cannot report requests from after it was received, so later rows are rejected.
    The bound depends on the file alone, never on when a run happens, so every rebuild of a
    day routes the same rows the same way (and the received day's partition always exists).
    """
    return dt.date.fromisoformat(PARTITIONS_START), received_day


def received_at(modified_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When a file counts as received: its modification time, never later than now."""
    return min(modified_at, now)


def routable_days(export: ExportFile, received: dt.datetime) -> np.ndarray:
    """Per row, its UTC day number, or ``NO_DAY`` when it has none within the partitions;
    raises UnreadableFile when no row has one."""
    first, last = partition_range(received.date())
    days = day_numbers(row_timestamps(export))
    inside = (days >= day_number(first)) & (days <= day_number(last))
    if not inside.any():
        col = export.format.timestamp_column
        raise UnreadableFile(
            f"{export.name}: no row has a readable timestamp between {first} and {last} "
            f"in column {col!r}"
        )
    return np.where(inside, days, NO_DAY)


def dates_of(days: np.ndarray) -> tuple[dt.date, ...]:
    return tuple(day_of(d) for d in np.unique(days) if d != NO_DAY)


def inspect_usage_file(data: bytes, name: str, received: dt.datetime) -> FileInspection:
    """Read a file far enough to route it; raises UnreadableFile when it cannot be landed."""
    usage_file = read_usage_file(data, name, routing_only=True)
    days = routable_days(usage_file, received)
    return FileInspection(usage_file.source, usage_file.table.rows_read, dates_of(days), received)
