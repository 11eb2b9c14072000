"""Land usage exports: inbox file -> raw zone -> validated, normalized ``usage_costs`` rows.

One call processes a window of UTC days (one partition, or a range in a single-run backfill).
For every file that touches the window it reads the raw-zone copy, routes each row to its day,
collapses repeated request ids inside the file (the later record wins), validates the rows as
received, normalizes, validates again, and upserts the survivors; failures go to
``rejected_records``. Per file and day: rows read = landed + rejected + duplicates.

Rows whose timestamp cannot be read belong to no day; they (and unparseable lines) are
reported with the file's first day, its "home" day, so each is counted exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.costing import Costing
from costsync_pipeline.landing.outcomes import FileDayStats, FileOutcome, WindowResult
from costsync_pipeline.landing.prices import clear_recosts
from costsync_pipeline.landing.registry import files_for_window
from costsync_pipeline.landing.rejects import (
    empty_rejections,
    outside_partitions,
    reasons,
    unreadable_rows,
    utc,
)
from costsync_pipeline.landing.routing import (
    NO_DAY,
    day_number,
    day_numbers,
    day_of,
    partition_range,
    row_timestamps,
)
from costsync_pipeline.landing.writes import Uploader, store_file_days, store_rejections
from costsync_pipeline.schemas.usage import NormalizedUsage
from costsync_pipeline.sources.containers import ROW
from costsync_pipeline.sources.usage import UsageFile, read_usage_file
from costsync_pipeline.transforms.normalize import clean_text, normalize_usage
from costsync_pipeline.transforms.rejections import raw_json, validate_lazily

# Rows validated per step; each step's upsert overlaps the next step's validation.
CHUNK_ROWS = 125_000
NORMALIZED_SCHEMA = NormalizedUsage.to_schema()


@dataclass
class _Routes:
    """Where each row of a file goes, as integer UTC day numbers (see ``routing``)."""

    day: np.ndarray  # the row's day; undated and out-of-range rows get the home day
    in_window: np.ndarray
    duplicate: np.ndarray  # an earlier record of a request id repeated later in the file
    out_of_range: np.ndarray
    by_row: pd.Series  # row number -> day number

    def day_of_rows(self, rows: pd.Series) -> pd.Series:
        return rows.map(self.by_row)


def _route(
    usage_file: UsageFile, ts: pd.Series, home: dt.date, start, end, received_day
) -> _Routes:
    fmt, frame = usage_file.format, usage_file.table.frame
    day = day_numbers(ts)
    first, last = (day_number(d) for d in partition_range(received_day))
    undated = day == NO_DAY
    out_of_range = ~undated & ((day < first) | (day > last))
    day = np.where(undated | out_of_range, day_number(home), day)
    in_window = (day >= day_number(start)) & (day < day_number(end))
    keys = clean_text(frame[fmt.key_column])  # the id exactly as normalization will see it
    duplicate = (keys.notna() & keys.duplicated(keep="last")).to_numpy(dtype=bool)
    by_row = pd.Series(day, index=frame[ROW].to_numpy())
    return _Routes(day, in_window, duplicate, out_of_range, by_row)


def _count(outcome: FileOutcome, field_name: str, days: np.ndarray) -> None:
    for number, n in zip(*np.unique(days, return_counts=True), strict=True):
        stats = outcome.days.setdefault(day_of(number), FileDayStats())
        setattr(stats, field_name, getattr(stats, field_name) + int(n))


@dataclass
class _Prepared:
    """A file read and routed; its window rows are validated chunk by chunk afterwards."""

    meta: dict
    usage_file: UsageFile
    timestamps: pd.Series
    routes: _Routes
    outcome: FileOutcome
    window: pd.DataFrame
    rejections: list[pd.DataFrame] = field(default_factory=list)
    landed_ids: list[pd.Series] = field(default_factory=list)


def _prepare_file(meta: dict, start: dt.date, end: dt.date) -> _Prepared:
    """Read a landed file and route its rows: counts read and duplicate rows per day."""
    name, home = meta["file_name"], meta["first_date"]
    received_day = utc(meta["received_at"]).date()
    usage_file = read_usage_file(inbox.read_bytes(meta["raw_path"]), name)
    frame = usage_file.table.frame
    ts = row_timestamps(usage_file)
    routes = _route(usage_file, ts, home, start, end, received_day)
    outcome = FileOutcome(meta["file_checksum"], name, usage_file.source)
    _count(outcome, "rows_read", routes.day[routes.in_window])
    _count(outcome, "rows_duplicate", routes.day[routes.in_window & routes.duplicate])
    candidates = routes.in_window & ~routes.duplicate
    prepared = _Prepared(
        meta, usage_file, ts, routes, outcome, frame[candidates & ~routes.out_of_range]
    )
    if start <= home < end and usage_file.table.row_errors:
        # Lines that could not be parsed belong to no day: they count on the home day.
        _count(outcome, "rows_read", np.full(len(usage_file.table.row_errors), day_number(home)))
        prepared.rejections.append(unreadable_rows(usage_file))
    if (candidates & routes.out_of_range).any():
        prepared.rejections.append(
            outside_partitions(usage_file, frame[candidates & routes.out_of_range], received_day)
        )
    return prepared


def _validate_rows(p: _Prepared, rows: pd.DataFrame, costing: Costing) -> pd.DataFrame:
    """Validate rows as received, normalize, validate again, cost the rows that pass."""
    fmt, frame = p.usage_file.format, p.usage_file.table.frame
    good_raw, raw_rejects = validate_lazily(rows, fmt.raw_schema, "raw", fmt.key_column)
    records = fmt.to_records(good_raw.drop(columns=ROW))
    records[ROW] = good_raw[ROW]
    normalized, stats = normalize_usage(
        records,
        source=p.usage_file.source,
        file_checksum=p.outcome.checksum,
        received_at=utc(p.meta["received_at"]),
        occurred_at=p.timestamps.loc[good_raw.index],
    )
    normalized[ROW] = good_raw[ROW]
    good, norm_rejects = validate_lazily(
        normalized,
        NORMALIZED_SCHEMA,
        "normalized",
        "request_id",
        {"reasoning_within_output": "reasoning_tokens"},
    )
    p.outcome.naive_timestamps += stats.naive_timestamps
    p.outcome.currency_defaulted += stats.currency_defaulted
    for part in (raw_rejects, norm_rejects):
        if not part.empty:
            raws = raw_json(frame, part["row_number"])
            p.rejections.append(part.assign(raw=part["row_number"].map(raws)))
    _count(p.outcome, "rows_landed", p.routes.day_of_rows(good[ROW]).to_numpy())
    p.landed_ids.append(good["request_id"])
    return costing.apply(good.drop(columns=ROW))


def _finish_file(p: _Prepared) -> pd.DataFrame:
    """The file's rejections with their days; checks that every row is accounted for."""
    home = day_number(p.meta["first_date"])
    rejected = pd.concat(p.rejections, ignore_index=True) if p.rejections else empty_rejections()
    days = p.routes.day_of_rows(rejected["row_number"]).fillna(home).astype(np.int64)
    _count(p.outcome, "rows_rejected", days[~rejected["row_number"].duplicated()].to_numpy())
    rejected["partition_date"] = days.map(day_of)
    rejected["file_checksum"] = p.outcome.checksum
    rejected["source_file"] = p.outcome.name
    for day, s in p.outcome.days.items():
        if not s.rows_balance():
            raise AssertionError(f"{p.outcome.name} {day}: rows do not add up: {s}")
    return rejected


def _superseded(prepared: list[_Prepared]) -> int:
    """Requests landed from several files of the window: all but the newest are superseded
    (the upsert's rank guard keeps the newest, whatever order the statements ran in)."""
    ids = [i for p in prepared for i in p.landed_ids]
    if len(prepared) < 2 or not ids:
        return 0
    return int(pd.concat(ids, ignore_index=True).duplicated().sum())


def land_usage_window(
    engine: sa.Engine,
    start: dt.date,
    end: dt.date,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> WindowResult:
    """Land every usage row of the UTC days [start, end) from the files registered for them.

    Safe to repeat and to run twice at once. ``register_new_files`` runs first (the
    ``raw_usage_files`` asset) so new inbox files are part of the window. Rows are costed at
    the prices valid when each request happened; a cost that changes for a row already
    stored (a re-cost after a price change, a corrected export) is written to
    ``cost_audit_log``. The window's pending re-cost requests are answered.
    """
    now = now or dt.datetime.now(dt.UTC)
    files = files_for_window(engine, start, end)
    costing = Costing.load(engine, start, end)
    prepared = [_prepare_file(meta, start, end) for meta in files]
    uploader = Uploader(engine, now, run_id)
    try:
        for p in prepared:
            for offset in range(0, len(p.window), CHUNK_ROWS):
                chunk = p.window.iloc[offset : offset + CHUNK_ROWS]
                uploader.submit(_validate_rows(p, chunk, costing))
    finally:
        counts = uploader.close()
    rejects = [_finish_file(p) for p in prepared]
    outcomes = [p.outcome for p in prepared]
    superseded = _superseded(prepared)
    rejected = pd.concat(rejects, ignore_index=True) if rejects else empty_rejections()
    store_rejections(engine, rejected, [o.checksum for o in outcomes], start, end, now)
    store_file_days(engine, outcomes, run_id, now)
    clear_recosts(engine, start, end, costing.generation)
    return WindowResult(
        start,
        end,
        counts,
        outcomes,
        superseded,
        reasons(rejected),
    )
