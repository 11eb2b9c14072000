import datetime as dt

import dagster as dg
from pydantic import Field

from costsync_pipeline.landing import inbox as inbox_files
from costsync_pipeline.landing.registry import record_unreadable
from costsync_pipeline.resources import InboxResource, WarehouseResource

usage_job = dg.define_asset_job(
    "usage_job",
    selection=dg.AssetSelection.groups("usage"),
    description="Land, validate and normalize the usage exports of one UTC day (or a range).",
)


class UnreadableFile(dg.Config):
    path: str = Field(description="Path or URL of the file in the inbox.")
    checksum: str | None = Field(
        default=None,
        description="SHA-256 of the content found unreadable; a file whose content differs "
        "now is left for the sensor to judge again. (Missing in runs requested before it.)",
    )
    message: str = Field(description="Why it cannot be read.")


class SetAsideConfig(dg.Config):
    files: list[UnreadableFile]


@dg.op
def set_aside_usage_files(
    context: dg.OpExecutionContext,
    config: SetAsideConfig,
    warehouse: WarehouseResource,
    inbox: InboxResource,
) -> None:
    """Move files that cannot be read to failed/ and record why in rejected_records."""
    engine = warehouse.get_engine()
    now = dt.datetime.now(dt.UTC)
    for item in config.files:
        found = inbox_files.stat_file(item.path)
        if found is None:
            context.log.info(f"{item.path} is no longer in the inbox")
            continue
        if item.checksum is not None and found.checksum != item.checksum:
            # Replaced since the sensor read it (a finished copy, a fixed export): the new
            # content is judged on its own by the next sensor tick.
            context.log.warning(f"{item.path} changed since it was found unreadable; left in place")
            continue
        record_unreadable(engine, inbox.inbox_url, found, item.message, now)
        context.log.error(f"set aside: {item.message}")


@dg.job(description="Set aside usage files that cannot be read, with the reason.")
def usage_set_aside_job() -> None:
    set_aside_usage_files()
