"""Cloud and GPU billing export formats. Each module here that defines ``FORMAT`` is one."""

from __future__ import annotations

from costsync_pipeline.sources.cloud.base import CloudFormat
from costsync_pipeline.sources.formats import ExportFile, discover, read_export


def cloud_formats() -> list[CloudFormat]:
    """Every format module in this package, most specific first."""
    return discover(__name__, __path__, CloudFormat)


def read_cloud_file(data: bytes, name: str) -> ExportFile:
    """Read a cloud billing export of any known format; raises UnreadableFile with the reason."""
    return read_export(data, name, cloud_formats(), "cloud")


__all__ = ["CloudFormat", "cloud_formats", "read_cloud_file"]
