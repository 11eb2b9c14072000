"""The kinds of export the inbox takes, each in its own folder, and how each is planned.

Everything else (checksums, the raw zone, the registry, set-aside files, rejections,
per-file-day counts) is shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from costsync_pipeline.landing.routing import FileInspection, inspect_usage_file
from costsync_pipeline.landing.scopes import earlier_scope_days, inspect_cloud_file


@dataclass(frozen=True)
class Kind:
    name: str  # the inbox folder, ``landed_files.kind`` and the run-key prefix
    inspect: Callable[[bytes, str, dt.datetime], FileInspection]
    # One run per contiguous range of days (cloud exports span a month) instead of per day.
    range_runs: bool = False
    # Days beyond a new file's own that its landing changes (a re-issued export's period).
    extra_days: Callable[[sa.Engine, list[FileInspection]], set[dt.date]] | None = None
    # The warehouse lock its windows are written under; registering a new file takes it too.
    lock: str | None = None

    @property
    def set_aside_op(self) -> str:
        return f"set_aside_{self.name}_files"


USAGE = Kind("usage", inspect_usage_file)
CLOUD = Kind(
    "cloud",
    inspect_cloud_file,
    range_runs=True,
    extra_days=earlier_scope_days,
    lock="cost_snapshots",
)
KINDS = {k.name: k for k in (USAGE, CLOUD)}
