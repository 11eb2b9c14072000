"""What should run for the files in the inbox: the decisions the sensor and ``costsync run``
share. Reads files, writes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.usage import KIND, inspect_usage_file
from costsync_pipeline.sources.containers import UnreadableFile
from costsync_pipeline.warehouse import tables as t


@dataclass
class UsagePlan:
    partitions: dict[str, set[str]] = field(default_factory=dict)  # day -> new file checksums
    unreadable: list[tuple[inbox.InboxFile, str]] = field(default_factory=list)
    stat_cache: dict[str, tuple[int, float, str]] = field(default_factory=dict)
    new_checksums: set[str] = field(default_factory=set)


def partition_run_key(partition: str, checksums: set[str]) -> str:
    """Same files, same day -> same key, whatever the files are called."""
    digest = hashlib.sha256("|".join(sorted(checksums)).encode()).hexdigest()[:24]
    return f"usage:{partition}:{digest}"


def landed_checksums(engine: sa.Engine, checksums: set[str]) -> set[str]:
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
    today: dt.date,
    *,
    stat_cache: dict | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> UsagePlan:
    """New usage files (by checksum) and the UTC days their rows belong to.

    ``skip`` holds checksums already requested but perhaps not landed yet.
    """
    files = inbox.list_inbox(inbox_url, KIND, stat_cache)
    plan = UsagePlan(
        stat_cache={f.path: (f.size, f.modified_at.timestamp(), f.checksum) for f in files}
    )
    seen = landed_checksums(engine, {f.checksum for f in files}) | set(skip)
    for f in files:
        if f.checksum in seen:
            continue
        seen.add(f.checksum)
        try:
            info = inspect_usage_file(inbox.read_bytes(f.path), f.name, today)
        except UnreadableFile as exc:
            plan.unreadable.append((f, str(exc)))
            continue
        plan.new_checksums.add(f.checksum)
        for day in info.dates:
            plan.partitions.setdefault(day.isoformat(), set()).add(f.checksum)
    return plan


@dataclass(frozen=True)
class PlannedRun:
    """A run the inbox calls for: a usage partition, or setting unreadable files aside."""

    run_key: str
    partition: str | None
    run_config: dict
    tags: dict


def run_requests_for(plan: UsagePlan) -> list[PlannedRun]:
    runs = []
    if plan.unreadable:
        keys = sorted(f.checksum for f, _ in plan.unreadable)
        runs.append(
            PlannedRun(
                run_key="usage-set-aside:"
                + hashlib.sha256("|".join(keys).encode()).hexdigest()[:24],
                partition=None,
                run_config={
                    "ops": {
                        "set_aside_usage_files": {
                            "config": {
                                "files": [
                                    {"path": f.path, "message": msg} for f, msg in plan.unreadable
                                ]
                            }
                        }
                    }
                },
                tags={"costsync/files": ",".join(k[:12] for k in keys)[:200]},
            )
        )
    for day in sorted(plan.partitions):
        checksums = plan.partitions[day]
        runs.append(
            PlannedRun(
                run_key=partition_run_key(day, checksums),
                partition=day,
                run_config={},
                tags={"costsync/files": ",".join(sorted(c[:12] for c in checksums))[:200]},
            )
        )
    return runs
