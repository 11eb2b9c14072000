"""The job that sets aside inbox files that cannot be read, one per kind of export."""

import datetime as dt

import dagster as dg
from pydantic import Field

from costsync_pipeline.landing import inbox as inbox_files
from costsync_pipeline.landing.kinds import Kind
from costsync_pipeline.landing.registry import record_unreadable
from costsync_pipeline.resources import InboxResource, WarehouseResource


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


def set_aside_job(kind: Kind) -> dg.JobDefinition:
    @dg.op(name=kind.set_aside_op)
    def set_aside_files(
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
                context.log.warning(
                    f"{item.path} changed since it was found unreadable; left in place"
                )
                continue
            record_unreadable(engine, inbox.inbox_url, found, item.message, now, kind=kind.name)
            context.log.error(f"set aside: {item.message}")

    @dg.job(
        name=f"{kind.name}_set_aside_job",
        description=f"Set aside {kind.name} files that cannot be read, with the reason.",
    )
    def job() -> None:
        set_aside_files()

    return job
