"""The cloud inbox sensor: new billing exports -> one run per range of days they change."""

import dagster as dg

from costsync_pipeline.defs.cloud.jobs import cloud_job, cloud_set_aside_job
from costsync_pipeline.defs.inbox_sensor import evaluate_inbox
from costsync_pipeline.landing.kinds import CLOUD
from costsync_pipeline.resources import InboxResource, WarehouseResource


@dg.sensor(
    jobs=[cloud_job, cloud_set_aside_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches $COSTSYNC_INBOX/cloud/ and requests one run per contiguous range of "
    "UTC days a new export changes: its own line items' days and, for a re-issued export, "
    "the days of the earlier exports of its billing period.",
)
def cloud_inbox_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, inbox: InboxResource
) -> dg.SensorResult:
    return evaluate_inbox(
        context, warehouse, inbox, CLOUD, cloud_job.name, cloud_set_aside_job.name
    )
