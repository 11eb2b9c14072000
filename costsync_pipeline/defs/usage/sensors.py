"""The inbox sensor: new usage files -> runs for exactly the UTC days their rows belong to."""

import datetime as dt
import json

import dagster as dg

from costsync_pipeline.defs.usage.jobs import usage_job, usage_set_aside_job
from costsync_pipeline.landing.planning import (
    landed_checksums,
    plan_inbox,
    run_requests_for,
)
from costsync_pipeline.resources import InboxResource, WarehouseResource


@dg.sensor(
    jobs=[usage_job, usage_set_aside_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches $COSTSYNC_INBOX/usage/ and requests a run per UTC day of new rows; "
    "run keys come from file checksums, so a re-dropped or renamed file runs once.",
)
def usage_inbox_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, inbox: InboxResource
) -> dg.SensorResult:
    state = json.loads(context.cursor) if context.cursor else {}
    engine = warehouse.get_engine()
    requested = set(state.get("requested", []))
    plan = plan_inbox(
        engine,
        inbox.inbox_url,
        dt.datetime.now(dt.UTC),
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
                job_name=usage_job.name if r.partition else usage_set_aside_job.name,
                partition_key=r.partition,
                run_config=r.run_config,
                tags=r.tags,
            )
            for r in requests
        ],
        cursor=cursor,
    )
