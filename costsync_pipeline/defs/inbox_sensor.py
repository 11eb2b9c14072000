"""What every inbox sensor does: plan the new files of its kind and request their runs.

Run keys come from file checksums, so a re-dropped or renamed file runs once. The cursor keeps
a stat cache (unchanged files are not hashed again) and the checksums requested but not yet
landed.
"""

import datetime as dt
import json

import dagster as dg

from costsync_pipeline.landing.kinds import Kind
from costsync_pipeline.landing.planning import (
    PlannedRun,
    landed_checksums,
    plan_inbox,
    run_requests_for,
)
from costsync_pipeline.resources import InboxResource, WarehouseResource

# Dagster's tags for one run over a range of partitions (what a single-run backfill sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_args(run: PlannedRun) -> dict:
    """``partition_key`` for one day, or the range tags for several."""
    if run.partition is None or not run.last_partition or run.last_partition == run.partition:
        return {"partition_key": run.partition, "tags": dict(run.tags)}
    return {
        "partition_key": None,
        "tags": {**run.tags, RANGE_START_TAG: run.partition, RANGE_END_TAG: run.last_partition},
    }


def evaluate_inbox(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    inbox: InboxResource,
    kind: Kind,
    job_name: str,
    set_aside_job_name: str,
) -> dg.SensorResult:
    state = json.loads(context.cursor) if context.cursor else {}
    engine = warehouse.get_engine()
    requested = set(state.get("requested", []))
    plan = plan_inbox(
        engine,
        inbox.inbox_url,
        dt.datetime.now(dt.UTC),
        kind=kind,
        stat_cache={k: tuple(v) for k, v in state.get("stat", {}).items()},
        skip=requested,
    )
    requests = run_requests_for(plan)
    # Remember what was requested until its run has landed it.
    asked = requested | plan.new_checksums | {f.checksum for f, _ in plan.unreadable}
    # Forget what has landed, and what is no longer in the inbox (replaced or removed before
    # its run handled it), so content dropped again later is judged again.
    in_inbox = {checksum for _, _, checksum in plan.stat_cache.values()}
    pending = (asked & in_inbox) - landed_checksums(engine, asked)
    cursor = json.dumps(
        {"stat": {k: list(v) for k, v in plan.stat_cache.items()}, "requested": sorted(pending)},
        sort_keys=True,
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=r.run_key,
                job_name=job_name if r.partition else set_aside_job_name,
                run_config=r.run_config,
                **partition_args(r),
            )
            for r in requests
        ],
        cursor=cursor,
    )
