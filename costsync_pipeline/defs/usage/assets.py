"""Usage stage: raw usage files in the raw zone, then normalized ``usage_costs``."""

import dagster as dg

from costsync_pipeline.defs.raw_files import register_window, window
from costsync_pipeline.defs.usage.checks import USAGE_COSTS_CHECKS, usage_costs_check_results
from costsync_pipeline.defs.usage.metadata import window_metadata
from costsync_pipeline.landing.kinds import USAGE
from costsync_pipeline.landing.usage import land_usage_window
from costsync_pipeline.partitions import daily_partitions
from costsync_pipeline.resources import InboxResource, WarehouseResource


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="usage",
    kinds={"file"},
    check_specs=[dg.AssetCheckSpec("no_unreadable_files", asset="raw_usage_files")],
)
def raw_usage_files(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, inbox: InboxResource
) -> dg.MaterializeResult:
    """Usage exports exactly as received, kept content-addressed in the raw zone.

    New inbox files whose rows fall on these UTC days are copied here and recorded in
    ``landed_files``, so any day can be rebuilt later without the inbox. Files that cannot be
    read are moved to the inbox's ``failed/`` folder with a message.
    """
    return register_window(context, warehouse, inbox, USAGE)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="usage",
    kinds={"sql", "pandas"},
    # Prices and rates are read at event time; their changes re-cost days (recost_sensor).
    deps=[raw_usage_files, "model_prices", "fx_rates"],
    check_specs=USAGE_COSTS_CHECKS,
)
def usage_costs(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per LLM request: validated, normalized, deduplicated by ``request_id``.

    Provider and model lower-case, timestamps UTC, disjoint token buckets (uncached input,
    cache reads, cache writes, output), the reported cost with its currency. A corrected
    re-export supersedes earlier values; rows that fail validation are in
    ``rejected_records`` with file, row, column, check and reason.
    """
    engine = warehouse.get_engine()
    start, end = window(context)
    result = land_usage_window(engine, start, end, run_id=context.run.run_id)
    metadata = window_metadata(engine, result)
    return dg.MaterializeResult(
        metadata=metadata, check_results=usage_costs_check_results(engine, result)
    )
