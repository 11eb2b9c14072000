"""What every raw-files asset does: register the new inbox files of its kind for a window."""

import datetime as dt

import dagster as dg

from costsync_pipeline.landing.kinds import Kind
from costsync_pipeline.landing.planning import PLANNED_AT
from costsync_pipeline.landing.registry import files_for_window, register_new_files
from costsync_pipeline.resources import InboxResource, WarehouseResource


def window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    tw = context.partition_time_window
    return tw.start.date(), tw.end.date()


def register_window(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    inbox: InboxResource,
    kind: Kind,
) -> dg.MaterializeResult:
    engine = warehouse.get_engine()
    start, end = window(context)
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
        kind=kind,
    )
    files = files_for_window(engine, start, end, kind=kind.name)
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
