"""What should run for the files in the inbox: the decisions the sensors and ``costsync run``
share. Reads files, writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.kinds import KINDS, USAGE, Kind
from costsync_pipeline.landing.routing import FileInspection, received_at
from costsync_pipeline.sources.containers import UnreadableFile
from costsync_pipeline.warehouse import tables as t

PLANNED_AT = "costsync/planned_at"


@dataclass
class InboxPlan:
    kind: Kind
    # When the decisions were made: a file's receipt time is capped at it, and the runs
    # carry it (tag PLANNED_AT) so they register files with the same receipt day.
    planned_at: dt.datetime
    readable: list[tuple[inbox.InboxFile, FileInspection]] = field(default_factory=list)
    unreadable: list[tuple[inbox.InboxFile, str]] = field(default_factory=list)
    stat_cache: dict[str, tuple[int, float, str]] = field(default_factory=dict)

    @property
    def new_checksums(self) -> set[str]:
        return {f.checksum for f, _ in self.readable}

    extra_days: set[dt.date] = field(default_factory=set)

    @property
    def partitions(self) -> dict[str, set[str]]:
        """UTC day -> checksums of the new files whose landing changes that day: the days of
        their rows, and (cloud) the days of earlier exports they replace."""
        days: dict[str, set[str]] = {}
        for f, info in self.readable:
            for day in info.dates:
                days.setdefault(day.isoformat(), set()).add(f.checksum)
        if self.extra_days:
            everything = self.new_checksums
            for day in self.extra_days:
                days.setdefault(day.isoformat(), set()).update(everything)
        return days


@dataclass(frozen=True)
class PlannedRun:
    """A run the inbox calls for: a partition (or a range of them), or setting unreadable
    files aside."""

    run_key: str
    partition: str | None
    run_config: dict
    tags: dict
    last_partition: str | None = None  # set for a run over partition..last_partition

    @property
    def label(self) -> str:
        if self.partition is None:
            return "set aside unreadable files"
        if self.last_partition and self.last_partition != self.partition:
            return f"{self.partition}..{self.last_partition}"
        return self.partition


def _digest(checksums) -> str:
    return hashlib.sha256("|".join(sorted(checksums)).encode()).hexdigest()[:24]


def partition_run_key(partition: str, checksums: set[str], kind: str = "usage") -> str:
    """Same files, same day (or range) -> same key, whatever the files are called."""
    return f"{kind}:{partition}:{_digest(checksums)}"


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


def plan_inbox(
    engine: sa.Engine,
    inbox_url: str,
    now: dt.datetime,
    *,
    kind: Kind | str = USAGE,
    stat_cache: dict | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> InboxPlan:
    """New files of a kind (by checksum) and the UTC days their landing changes.

    ``skip`` holds checksums already requested but perhaps not landed yet.
    """
    kind = KINDS[kind] if isinstance(kind, str) else kind
    files = inbox.list_inbox(inbox_url, kind.name, stat_cache)
    plan = InboxPlan(
        kind=kind,
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
            plan.readable.append((f, kind.inspect(inbox.read_bytes(f.path), f.name, received)))
        except UnreadableFile as exc:
            plan.unreadable.append((f, str(exc)))
    if kind.extra_days and plan.readable:
        plan.extra_days = kind.extra_days(engine, [info for _, info in plan.readable])
    return plan


def _ranges(days: list[str]) -> list[list[str]]:
    """Sorted ISO days grouped into runs of consecutive days."""
    out: list[list[str]] = []
    for day in sorted(days):
        if out and dt.date.fromisoformat(day) - dt.date.fromisoformat(out[-1][-1]) == dt.timedelta(
            days=1
        ):
            out[-1].append(day)
        else:
            out.append([day])
    return out


def run_requests_for(plan: InboxPlan) -> list[PlannedRun]:
    kind = plan.kind.name
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
                run_key=f"{kind}-set-aside:{_digest(drops)}",
                partition=None,
                run_config={"ops": {plan.kind.set_aside_op: {"config": {"files": files}}}},
                tags={"costsync/files": ",".join(k[:12] for k in keys)[:200]},
            )
        )
    partitions = plan.partitions
    groups = _ranges(list(partitions)) if plan.kind.range_runs else [[d] for d in partitions]
    for days in sorted(groups):
        checksums = set().union(*(partitions[d] for d in days))
        label = days[0] if len(days) == 1 else f"{days[0]}..{days[-1]}"
        runs.append(
            PlannedRun(
                run_key=partition_run_key(label, checksums, kind),
                partition=days[0],
                last_partition=days[-1],
                run_config={},
                tags={
                    "costsync/files": ",".join(sorted(c[:12] for c in checksums))[:200],
                    PLANNED_AT: plan.planned_at.isoformat(),
                },
            )
        )
    return runs
