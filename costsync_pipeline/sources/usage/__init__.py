"""Usage export formats. Each module here defines ``FORMAT``; adding a module adds a format."""

from __future__ import annotations

import importlib
import pkgutil

import pandas as pd

from costsync_pipeline.sources.containers import RawTable, UnreadableFile, read_container
from costsync_pipeline.sources.usage.base import UsageFile, UsageFormat


def usage_formats() -> list[UsageFormat]:
    """Every format module in this package, most specific first."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if isinstance(fmt, UsageFormat):
            found.append(fmt)
    return sorted(found, key=lambda f: (f.priority, f.name))


def detect_format(table: RawTable, name: str) -> UsageFormat:
    columns = set(table.columns)
    candidates = [f for f in usage_formats() if table.container in f.containers]
    for fmt in candidates:
        if fmt.matches(columns):
            missing = [c for c in fmt.required_columns if c not in columns]
            if missing:
                raise UnreadableFile(
                    f"{name}: looks like {fmt.name} but lacks required column(s) {missing}"
                )
            return fmt
    known = ", ".join(f"{f.name} ({'/'.join(sorted(f.containers))})" for f in candidates)
    shown = sorted(columns)[:12]
    raise UnreadableFile(
        f"{name}: {table.container} with columns {shown} matches no known usage format "
        f"(known: {known})"
    )


def read_usage_file(data: bytes, name: str, routing_only: bool = False) -> UsageFile:
    """Read a usage export of any known format; raises UnreadableFile with the reason.

    ``routing_only`` may skip every column but the key and the timestamp (where the
    container allows it), for callers that only need to know which days a file touches.
    """
    if not routing_only:
        table = read_container(data, name)
        return UsageFile(name=name, format=detect_format(table, name), table=table)
    found: list[UsageFormat] = []

    def routing_columns(names: list[str]) -> list[str]:
        fmt = detect_format(RawTable("parquet", pd.DataFrame(columns=names)), name)
        found.append(fmt)
        return [fmt.key_column, fmt.timestamp_column]

    table = read_container(data, name, columns=routing_columns)
    fmt = found[0] if found else detect_format(table, name)
    return UsageFile(name=name, format=fmt, table=table)


__all__ = ["UsageFile", "UsageFormat", "UnreadableFile", "read_usage_file", "usage_formats"]
