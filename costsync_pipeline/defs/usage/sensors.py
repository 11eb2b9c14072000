"""The usage inbox sensor: new usage files -> runs for exactly the UTC days their rows are on."""

import dagster as dg

from costsync_pipeline.defs.inbox_sensor import evaluate_inbox
from costsync_pipeline.defs.usage.jobs import usage_job, usage_set_aside_job
from costsync_pipeline.landing.kinds import USAGE
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
    return evaluate_inbox(
        context, warehouse, inbox, USAGE, usage_job.name, usage_set_aside_job.name
    )
