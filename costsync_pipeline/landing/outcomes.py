"""What landing a window found, per file and day: the figures every run reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal

from costsync_pipeline.warehouse.upsert import UpsertCounts


@dataclass
class FileDayStats:
    """Rows of one file on one day: read = landed + rejected + duplicate + superseded.

    Cloud exports also account for their billed cost (the file's own column, summed exactly):
    read = landed + rejected + superseded. Usage files leave the costs None.
    """

    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_superseded: int = 0
    billed_cost_read: Decimal | None = None
    billed_cost_landed: Decimal | None = None
    billed_cost_rejected: Decimal | None = None
    billed_cost_superseded: Decimal | None = None

    def add(self, name: str, value) -> None:
        current = getattr(self, name)
        if value is None:
            return
        setattr(self, name, value if current is None else current + value)

    @classmethod
    def sum(cls, parts: Iterable[FileDayStats]) -> FileDayStats:
        out = cls()
        for part in parts:
            for f in fields(cls):
                out.add(f.name, getattr(part, f.name))
        return out

    def rows_balance(self) -> bool:
        return self.rows_read == (
            self.rows_landed + self.rows_rejected + self.rows_duplicate + self.rows_superseded
        )

    def cost_balance(self) -> bool:
        if self.billed_cost_read is None:
            return True
        parts = (self.billed_cost_landed, self.billed_cost_rejected, self.billed_cost_superseded)
        return self.billed_cost_read == sum((p for p in parts if p is not None), Decimal(0))


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
