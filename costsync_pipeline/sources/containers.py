"""Read a file's container (JSON envelope, JSON Lines, CSV, Parquet), detected from content.

A container reader returns the rows exactly as the file holds them (CSV values stay text,
typed containers keep their types) with their 1-based row numbers in ``_row``, plus the rows
that could not be parsed at all. A file that cannot be read as a whole raises
``UnreadableFile`` with a message naming the file and the problem.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

ROW = "_row"
BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 64 * 1024
# Keys a JSON export may wrap its list of records in: costsync's own envelope, and seed 001's
# GPU cost export (``{"cost_data": [...]}``).
ENVELOPE_KEYS = ("records", "cost_data")


class UnreadableFile(Exception):
    """The file as a whole cannot be read; it is set aside with this message."""


@dataclass
class RowError:
    row: int
    reason: str
    raw: str


@dataclass
class RawTable:
    container: str
    frame: pd.DataFrame
    row_errors: list[RowError] = field(default_factory=list)
    all_columns: list[str] | None = None  # set when only some columns were read

    @property
    def columns(self) -> list[str]:
        if self.all_columns is not None:
            return list(self.all_columns)
        return [c for c in self.frame.columns if c != ROW]

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.row_errors)


def detect_container(head: bytes) -> str:
    """Guess the container from the first bytes; names never matter."""
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.removeprefix(BOM).lstrip()
    if not text:
        return "empty"
    if text[:1] == b"[":
        return "json"
    if text[:1] == b"{":
        first_line = text.split(b"\n", 1)[0].strip()
        try:
            first = json.loads(first_line)
        except ValueError:
            return "json"  # a pretty-printed document spans lines
        if isinstance(first, dict) and any(k in first for k in ENVELOPE_KEYS):
            return "json"
        return "jsonl"
    return "csv"


def _with_rows(frame: pd.DataFrame, rows: np.ndarray | None = None) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame[ROW] = rows if rows is not None else np.arange(1, len(frame) + 1, dtype=np.int64)
    return frame


def _read_parquet(data: bytes, name: str, columns=None) -> RawTable:
    try:
        if columns is not None:
            names = pq.read_schema(io.BytesIO(data)).names
            columns = columns(names)
        frame = pd.read_parquet(io.BytesIO(data), columns=columns)
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(f"{name}: not a readable Parquet file ({exc})") from exc
    return RawTable("parquet", _with_rows(frame), all_columns=names if columns else None)


def _read_json_document(data: bytes, name: str) -> RawTable:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{name}: not valid JSON ({exc})") from exc
    if isinstance(doc, dict):
        lists = [k for k in ENVELOPE_KEYS if isinstance(doc.get(k), list)]
        if len(lists) != 1:
            keys = " or ".join(f'"{k}"' for k in ENVELOPE_KEYS)
            raise UnreadableFile(f"{name}: a JSON object must hold one list under {keys}")
        items = doc[lists[0]]
    elif isinstance(doc, list):
        items = doc
    else:
        raise UnreadableFile(f"{name}: JSON must be a list or an object with records")
    errors, good, rows = [], [], []
    for i, item in enumerate(items, start=1):
        if isinstance(item, dict):
            good.append(item)
            rows.append(i)
        else:
            errors.append(
                RowError(
                    i,
                    f"record is a JSON {type(item).__name__}, not an object",
                    json.dumps(item)[:2000],
                )
            )
    frame = pd.DataFrame.from_records(good) if good else pd.DataFrame()
    return RawTable("json", _with_rows(frame, np.asarray(rows, dtype=np.int64)), errors)


def _read_jsonl_slow(data: bytes) -> RawTable:
    """Line by line, for files the fast reader refuses (a truncated line, mixed types)."""
    errors, good, rows = [], [], []
    for i, line in enumerate(data.decode("utf-8-sig", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            errors.append(RowError(i, f"line is not valid JSON ({exc})", line[:2000]))
            continue
        if not isinstance(item, dict):
            errors.append(RowError(i, "line is not a JSON object", line[:2000]))
            continue
        good.append(item)
        rows.append(i)
    frame = pd.DataFrame.from_records(good) if good else pd.DataFrame()
    return RawTable("jsonl", _with_rows(frame, np.asarray(rows, dtype=np.int64)), errors)


def _read_jsonl(data: bytes, name: str) -> RawTable:
    body = data.removeprefix(BOM)
    if b"\n\n" in body.strip() or b"\r\n" in body:
        return _read_jsonl_slow(data)  # blank lines shift numbering in the fast reader
    try:
        table = pajson.read_json(io.BytesIO(body))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _read_jsonl_slow(data)
    inferred_times = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    if inferred_times:
        # Arrow turns "...Z" text into naive timestamps, hiding whether an offset was given;
        # read those columns as text so normalization sees what the sender wrote.
        options = pajson.ParseOptions(
            explicit_schema=pa.schema([(c, pa.string()) for c in inferred_times]),
            unexpected_field_behavior="infer",
        )
        try:
            table = pajson.read_json(io.BytesIO(body), parse_options=options)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return _read_jsonl_slow(data)
    frame = table.to_pandas()
    for col in frame.columns:  # nested objects (e.g. metadata) come back as dicts
        if isinstance(table.schema.field(col).type, pa.StructType | pa.ListType):
            frame[col] = frame[col].map(_to_json_text)
    return RawTable("jsonl", _with_rows(frame))


def _to_json_text(value):
    if value is None:
        return None
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, default=str)


def _read_csv(data: bytes, name: str) -> RawTable:
    text_head = data[:SNIFF_BYTES].decode("utf-8-sig", errors="replace")
    try:
        header = next(csv.reader(io.StringIO(text_head)))
    except (StopIteration, csv.Error) as exc:
        raise UnreadableFile(f"{name}: no CSV header line") from exc
    header = [h.strip() for h in header]
    if len(header) < 2:
        raise UnreadableFile(
            f"{name}: not a recognised format (not Parquet or JSON, and as CSV it has "
            f"{len(header)} column)"
        )
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise UnreadableFile(f"{name}: CSV header repeats column(s) {dupes}")
    bad: list[RowError] = []

    def on_invalid(row) -> str:
        bad.append(
            RowError(
                int(row.number) - 1 if row.number is not None else -1,
                f"CSV row has {row.actual_columns} fields, header has {row.expected_columns}",
                row.text[:2000],
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data.removeprefix(BOM)),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{name}: not a readable CSV file ({exc})") from exc
    frame = table.to_pandas()
    total = len(frame) + len(bad)
    if bad:
        bad_rows = np.asarray([b.row for b in bad], dtype=np.int64)
        rows = np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), bad_rows)[: len(frame)]
    else:
        rows = None
    # Text columns: empty or the literal NULL mean "no value".
    return RawTable("csv", _with_rows(frame, rows), bad)


READERS = {
    "parquet": _read_parquet,
    "json": _read_json_document,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
}


def read_container(data: bytes, name: str, columns=None) -> RawTable:
    """Read a whole file. ``columns``, given the file's column names, picks the ones to read;
    containers that can read a subset cheaply (Parquet) honour it, the others read all."""
    container = detect_container(data[:SNIFF_BYTES])
    if container == "empty":
        raise UnreadableFile(f"{name}: the file is empty")
    if container == "parquet":
        table = _read_parquet(data, name, columns)
    else:
        table = READERS[container](data, name)
    if table.rows_read == 0:
        raise UnreadableFile(f"{name}: the file holds no data rows")
    return table
