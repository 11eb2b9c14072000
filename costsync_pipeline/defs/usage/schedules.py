import dagster as dg

from costsync_pipeline.defs.usage.jobs import usage_job
from costsync_pipeline.partitions import daily_partitions


@dg.schedule(
    job=usage_job,
    cron_schedule="15 1 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every day at 01:15 UTC, rebuild yesterday from the raw zone (late files, "
    "corrections).",
)
def usage_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    yesterday = daily_partitions.get_prev_partition_window(context.scheduled_execution_time)
    day = yesterday.start.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)
