"""What every export format provides, and finding a file's format among a kind's formats.

Each kind of export (``usage``, ``cloud``) is a package under ``sources/`` whose modules each
define ``FORMAT``; adding a module adds a format. Formats are detected from a file's content
(its container and column names), never from its name.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.containers import RawTable, UnreadableFile, read_container


@dataclass(frozen=True, kw_only=True)
class ExportFormat:
    """An export format.

    ``raw_schema`` validates rows as received, in the file's own column names, so a rejection
    names the column the sender wrote. ``timestamp_column`` routes rows to daily partitions
    before anything else is parsed; ``timestamps`` reads it (ISO 8601 unless a format says
    otherwise). ``describe_mismatch`` may explain why a file that resembles the format is not
    one (a localized header, say).
    """

    name: str
    containers: frozenset[str]
    matches: Callable[[set[str]], bool]
    required_columns: tuple[str, ...]
    timestamp_column: str
    key_column: str | None
    raw_schema: pa.DataFrameSchema
    priority: int = 100
    parse_timestamps: Callable[[pd.Series], pd.Series] | None = None
    describe_mismatch: Callable[[set[str]], str | None] | None = None

    def timestamps(self, frame: pd.DataFrame) -> pd.Series:
        """Each row's timestamp in UTC (NaT where it cannot be read)."""
        column = frame[self.timestamp_column]
        return (self.parse_timestamps or ck.to_utc)(column)


@dataclass
class ExportFile:
    name: str
    format: ExportFormat
    table: RawTable

    @property
    def source(self) -> str:
        return f"{self.format.name}.{self.table.container}"


def discover(package: str, path, cls: type) -> list:
    """Every ``FORMAT`` of type ``cls`` in the modules of ``package``, most specific first."""
    found = []
    for info in pkgutil.iter_modules(path):
        module = importlib.import_module(f"{package}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if isinstance(fmt, cls):
            found.append(fmt)
    return sorted(found, key=lambda f: (f.priority, f.name))


def detect_format(table: RawTable, name: str, formats: list, kind: str):
    columns = set(table.columns)
    candidates = [f for f in formats if table.container in f.containers]
    for fmt in candidates:
        if fmt.matches(columns):
            missing = [c for c in fmt.required_columns if c not in columns]
            if missing:
                raise UnreadableFile(
                    f"{name}: looks like {fmt.name} but lacks required column(s) {missing}"
                )
            return fmt
    for fmt in candidates:
        hint = fmt.describe_mismatch(columns) if fmt.describe_mismatch else None
        if hint:
            raise UnreadableFile(f"{name}: {hint}")
    known = ", ".join(f"{f.name} ({'/'.join(sorted(f.containers))})" for f in candidates)
    shown = sorted(columns)[:12]
    raise UnreadableFile(
        f"{name}: {table.container} with columns {shown} matches no known {kind} format "
        f"(known: {known or 'none for this container'})"
    )


def read_export(
    data: bytes,
    name: str,
    formats: list,
    kind: str,
    routing_columns: Callable[[ExportFormat], list[str]] | None = None,
) -> ExportFile:
    """Read an export of any of ``formats``; raises UnreadableFile with the reason.

    ``routing_columns`` may name, for the detected format, the only columns a caller needs;
    containers that can read a subset cheaply (Parquet) then skip the rest.
    """
    if routing_columns is None:
        table = read_container(data, name)
        return ExportFile(name=name, format=detect_format(table, name, formats, kind), table=table)
    found: list[ExportFormat] = []

    def pick(names: list[str]) -> list[str]:
        fmt = detect_format(RawTable("parquet", pd.DataFrame(columns=names)), name, formats, kind)
        found.append(fmt)
        return routing_columns(fmt)

    table = read_container(data, name, columns=pick)
    fmt = found[0] if found else detect_format(table, name, formats, kind)
    return ExportFile(name=name, format=fmt, table=table)
