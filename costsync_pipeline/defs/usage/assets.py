"""Usage stage: raw usage files in the raw zone, then normalized ``usage_costs``."""

import datetime as dt

import dagster as dg

from costsync_pipeline.defs.usage.checks import USAGE_COSTS_CHECKS, usage_costs_check_results
from costsync_pipeline.defs.usage.metadata import window_metadata
from costsync_pipeline.landing.planning import PLANNED_AT
from costsync_pipeline.landing.registry import files_for_window, register_new_files
from costsync_pipeline.landing.usage import land_usage_window
from costsync_pipeline.partitions import daily_partitions
from costsync_pipeline.resources import InboxResource, WarehouseResource


def _window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    tw = context.partition_time_window
    return tw.start.date(), tw.end.date()


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
    engine = warehouse.get_engine()
    start, end = _window(context)
    now = dt.datetime.now(dt.UTC)
    planned = context.run.tags.get(PLANNED_AT)
    set_aside = register_new_files(
        engine,
        inbox.inbox_url,
        inbox.raw_zone_url,
        start,
        end,
        now,
        planned_at=dt.datetime.fromisoformat(planned) if planned else None,
    )
    files = files_for_window(engine, start, end)
    for _name, message in set_aside:
        context.log.error(f"set aside: {message}")
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "file_list": dg.MetadataValue.md(
                "\n".join(
                    f"- `{f['file_name']}` ({f['format']}, {f['rows_read']} rows, "
                    f"sha256 {f['file_checksum'][:12]})"
                    for f in files
                )
                or "none"
            ),
            "set_aside": len(set_aside),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_unreadable_files",
                passed=not set_aside,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "set_aside": dg.MetadataValue.md(
                        "\n".join(f"- {m}" for _, m in set_aside) or "none"
                    )
                },
            )
        ],
    )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="usage",
    kinds={"sql", "pandas"},
    deps=[raw_usage_files],
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
    start, end = _window(context)
    result = land_usage_window(engine, start, end, run_id=context.run.run_id)
    metadata = window_metadata(engine, result)
    return dg.MaterializeResult(
        metadata=metadata, check_results=usage_costs_check_results(engine, result)
    )
