"""What should run for the files in the inbox: the decisions the sensor and ``costsync run``
share. Reads files, writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.routing import (
    KIND,
    FileInspection,
    inspect_usage_file,
    received_at,
)
from costsync_pipeline.sources.containers import UnreadableFile
from costsync_pipeline.warehouse import tables as t

PLANNED_AT = "costsync/planned_at"


@dataclass
class UsagePlan:
    # When the decisions were made: a file's receipt time is capped at it, and the runs
    # carry it (tag PLANNED_AT) so they register files with the same receipt day.
    planned_at: dt.datetime
    readable: list[tuple[inbox.InboxFile, FileInspection]] = field(default_factory=list)
    unreadable: list[tuple[inbox.InboxFile, str]] = field(default_factory=list)
    stat_cache: dict[str, tuple[int, float, str]] = field(default_factory=dict)

    @property
    def new_checksums(self) -> set[str]:
        return {f.checksum for f, _ in self.readable}

    @property
    def partitions(self) -> dict[str, set[str]]:
        """UTC day -> checksums of the new files with rows on that day."""
        days: dict[str, set[str]] = {}
        for f, info in self.readable:
            for day in info.dates:
                days.setdefault(day.isoformat(), set()).add(f.checksum)
        return days


@dataclass(frozen=True)
class PlannedRun:
    """A run the inbox calls for: a usage partition, or setting unreadable files aside."""

    run_key: str
    partition: str | None
    run_config: dict
    tags: dict


def _digest(checksums) -> str:
    return hashlib.sha256("|".join(sorted(checksums)).encode()).hexdigest()[:24]


def partition_run_key(partition: str, checksums: set[str]) -> str:
    """Same files, same day -> same key, whatever the files are called."""
    return f"usage:{partition}:{_digest(checksums)}"


def landed_checksums(engine: sa.Engine, checksums: set[str]) -> set[str]:
    """The checksums the warehouse already knows (landed or set aside)."""
    if not checksums:
        return set()
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.select(t.landed_files.c.file_checksum).where(
                    t.landed_files.c.file_checksum.in_(checksums)
                )
            ).scalars()
        )


def plan_usage_inbox(
    engine: sa.Engine,
    inbox_url: str,
    now: dt.datetime,
    *,
    stat_cache: dict | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> UsagePlan:
    """New usage files (by checksum) and the UTC days their rows belong to.

    ``skip`` holds checksums already requested but perhaps not landed yet.
    """
    files = inbox.list_inbox(inbox_url, KIND, stat_cache)
    plan = UsagePlan(
        planned_at=now,
        stat_cache={f.path: (f.size, f.modified_at.timestamp(), f.checksum) for f in files},
    )
    seen = landed_checksums(engine, {f.checksum for f in files}) | set(skip)
    for f in files:
        if f.checksum in seen:
            continue
        seen.add(f.checksum)  # the same content twice in one scan is one file
        try:
            received = received_at(f.modified_at, now)
            plan.readable.append(
                (f, inspect_usage_file(inbox.read_bytes(f.path), f.name, received))
            )
        except UnreadableFile as exc:
            plan.unreadable.append((f, str(exc)))
    return plan


def run_requests_for(plan: UsagePlan) -> list[PlannedRun]:
    runs = []
    if plan.unreadable:
        keys = sorted(f.checksum for f, _ in plan.unreadable)
        # Path and mtime too: the same broken bytes dropped again later are a new event.
        drops = sorted(
            f"{f.checksum}:{f.path}:{f.modified_at.isoformat()}" for f, _ in plan.unreadable
        )
        files = [
            {"path": f.path, "checksum": f.checksum, "message": msg} for f, msg in plan.unreadable
        ]
        runs.append(
            PlannedRun(
                run_key=f"usage-set-aside:{_digest(drops)}",
                partition=None,
                run_config={"ops": {"set_aside_usage_files": {"config": {"files": files}}}},
                tags={"costsync/files": ",".join(k[:12] for k in keys)[:200]},
            )
        )
    for day, checksums in sorted(plan.partitions.items()):
        runs.append(
            PlannedRun(
                run_key=partition_run_key(day, checksums),
                partition=day,
                run_config={},
                tags={
                    "costsync/files": ",".join(sorted(c[:12] for c in checksums))[:200],
                    PLANNED_AT: plan.planned_at.isoformat(),
                },
            )
        )
    return runs
