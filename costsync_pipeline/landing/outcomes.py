"""What landing a window found, per file and day: the figures every run reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from costsync_pipeline.warehouse.upsert import UpsertCounts


@dataclass
class FileDayStats:
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0


@dataclass
class FileOutcome:
    checksum: str
    name: str
    source: str
    days: dict[dt.date, FileDayStats] = field(default_factory=dict)
    naive_timestamps: int = 0
    currency_defaulted: int = 0

    def total(self) -> FileDayStats:
        out = FileDayStats()
        for s in self.days.values():
            out.rows_read += s.rows_read
            out.rows_landed += s.rows_landed
            out.rows_rejected += s.rows_rejected
            out.rows_duplicate += s.rows_duplicate
        return out


@dataclass
class WindowResult:
    start: dt.date
    end: dt.date  # exclusive
    counts: UpsertCounts
    files: list[FileOutcome]
    superseded: int
    rejected_by_reason: dict[str, int]

    @property
    def rows_read(self) -> int:
        return sum(f.total().rows_read for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.total().rows_rejected for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        return sum(f.total().rows_duplicate for f in self.files)

    @property
    def rows_landed(self) -> int:
        return sum(f.total().rows_landed for f in self.files)
