"""Cloud stage: billing exports in the raw zone, then daily ``cost_snapshots``."""

import dagster as dg

from costsync_pipeline.defs.cloud.checks import (
    COST_SNAPSHOTS_CHECKS,
    cost_snapshots_check_results,
)
from costsync_pipeline.defs.cloud.metadata import snapshot_metadata
from costsync_pipeline.defs.raw_files import register_window, window
from costsync_pipeline.landing.cloud import land_cloud_window
from costsync_pipeline.landing.kinds import CLOUD
from costsync_pipeline.partitions import daily_partitions
from costsync_pipeline.resources import InboxResource, WarehouseResource


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="cloud",
    kinds={"file"},
    check_specs=[dg.AssetCheckSpec("no_unreadable_files", asset="raw_cloud_files")],
)
def raw_cloud_files(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, inbox: InboxResource
) -> dg.MaterializeResult:
    """Cloud and GPU billing exports (FOCUS, AWS CUR, Azure EA, GPU cost exports) exactly as
    received, kept content-addressed in the raw zone.

    New files in ``$COSTSYNC_INBOX/cloud/`` with line items on these UTC days are copied here
    and recorded in ``landed_files`` with their billing scopes; files that cannot be read are
    moved to the inbox's ``cloud/failed/`` folder with a message.
    """
    return register_window(context, warehouse, inbox, CLOUD)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="cloud",
    kinds={"sql", "pandas"},
    deps=[raw_cloud_files],
    check_specs=COST_SNAPSHOTS_CHECKS,
)
def cost_snapshots(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily cloud and GPU cost: one row per UTC day and natural key (provider, billing
    account, sub-account, service, resource type, region, FOCUS charge category).

    Line items are summed exactly per day of their charge period's start; credits stay
    negative, taxes are their own category, GPU types are lower-case. The latest export of a
    billing period replaces that period's rows; every replaced figure is kept in
    ``cost_audit_log``. Rejected line items are in ``rejected_records``.
    """
    engine = warehouse.get_engine()
    start, end = window(context)
    result = land_cloud_window(engine, start, end, run_id=context.run.run_id)
    return dg.MaterializeResult(
        metadata=snapshot_metadata(engine, result),
        check_results=cost_snapshots_check_results(engine, result),
    )
