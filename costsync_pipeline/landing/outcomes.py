"""What landing a window found, per file and day: the figures every run reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from costsync_pipeline.warehouse.upsert import UpsertCounts


@dataclass
class FileDayStats:
    """Rows of one file on one day; rows_read = landed + rejected + duplicate."""

    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0

    @classmethod
    def sum(cls, parts: Iterable[FileDayStats]) -> FileDayStats:
        out = cls()
        for part in parts:
            for f in fields(cls):
                setattr(out, f.name, getattr(out, f.name) + getattr(part, f.name))
        return out


@dataclass
class FileOutcome:
    checksum: str
    name: str
    source: str
    days: dict[dt.date, FileDayStats] = field(default_factory=dict)
    naive_timestamps: int = 0
    currency_defaulted: int = 0

    def total(self) -> FileDayStats:
        return FileDayStats.sum(self.days.values())


@dataclass
class WindowResult:
    start: dt.date
    end: dt.date  # exclusive
    counts: UpsertCounts
    files: list[FileOutcome]
    superseded: int
    rejected_by_reason: dict[str, int]

    def total(self) -> FileDayStats:
        return FileDayStats.sum(f.total() for f in self.files)
