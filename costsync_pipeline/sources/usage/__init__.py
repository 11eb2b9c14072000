"""Usage export formats. Each module here defines ``FORMAT``; adding a module adds a format."""

from __future__ import annotations

from costsync_pipeline.sources.containers import UnreadableFile
from costsync_pipeline.sources.formats import ExportFile, discover, read_export
from costsync_pipeline.sources.usage.base import UsageFormat

UsageFile = ExportFile


def usage_formats() -> list[UsageFormat]:
    """Every format module in this package, most specific first."""
    return discover(__name__, __path__, UsageFormat)


def read_usage_file(data: bytes, name: str, routing_only: bool = False) -> ExportFile:
    """Read a usage export of any known format; raises UnreadableFile with the reason.

    ``routing_only`` may skip every column but the key and the timestamp (where the
    container allows it), for callers that only need to know which days a file touches.
    """
    return read_export(
        data,
        name,
        usage_formats(),
        "usage",
        (lambda fmt: [fmt.key_column, fmt.timestamp_column]) if routing_only else None,
    )


__all__ = ["UsageFile", "UsageFormat", "UnreadableFile", "read_usage_file", "usage_formats"]
