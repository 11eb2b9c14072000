"""Land cloud and GPU billing exports: raw zone -> validated line items -> ``cost_snapshots``.

One call rebuilds a window of UTC days. For every export touching the window it reads the
raw-zone copy, routes each line item to the day its charge period starts, validates it as
received, maps it to the FOCUS vocabulary, normalizes and validates again. A line item lands
when its file is the current export of its scope (see ``scopes``); otherwise it is
superseded. Landed line items roll up exactly to one row per natural key and day, and the
window's rows in ``cost_snapshots`` are replaced by them, each changed figure written to
``cost_audit_log``. Per file and day: rows read = landed + rejected + superseded, and so is
the file's own billed cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing import inbox
from costsync_pipeline.landing.fx import load_rates
from costsync_pipeline.landing.kinds import CLOUD
from costsync_pipeline.landing.outcomes import FileDayStats, FileOutcome
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
)
from costsync_pipeline.landing.scopes import SCOPE_COLUMNS, current_exports, scope_span
from costsync_pipeline.landing.snapshots import SnapshotChanges, replace_window
from costsync_pipeline.landing.writes import store_file_days, store_rejections
from costsync_pipeline.schemas.cloud import SNAPSHOT_KEY, NormalizedLineItem
from costsync_pipeline.sources.cloud import read_cloud_file
from costsync_pipeline.sources.containers import ROW
from costsync_pipeline.sources.formats import ExportFile
from costsync_pipeline.sources.fx import to_usd, usd_rates
from costsync_pipeline.transforms.cloud import normalize_line_items, rollup, to_decimals
from costsync_pipeline.transforms.rejections import raw_json, validate_lazily
from costsync_pipeline.warehouse.locks import exclusive

KIND = "cloud"
NORMALIZED_SCHEMA = NormalizedLineItem.to_schema()


@dataclass
class CloudWindowResult:
    start: dt.date
    end: dt.date  # exclusive
    changes: SnapshotChanges
    files: list[FileOutcome]
    rejected_by_reason: dict[str, int]

    def total(self) -> FileDayStats:
        return FileDayStats.sum(f.total() for f in self.files)


@dataclass
class _File:
    meta: dict
    rank: int  # position by receipt time: a later export wins a key both claim
    export: ExportFile
    outcome: FileOutcome
    day_by_row: pd.Series  # row number -> day number
    cost_by_row: pd.Series  # row number -> billed cost as the file wrote it (None: unreadable)
    items: pd.DataFrame = field(default_factory=pd.DataFrame)  # normalized, valid, in window
    rejections: list[pd.DataFrame] = field(default_factory=list)


def _count(f: _File, name: str, rows: pd.Series) -> None:
    """Count rows (by row number) on their days, and their billed cost."""
    days = rows.map(f.day_by_row).to_numpy(dtype=np.int64)
    costs = rows.map(f.cost_by_row)
    cost_name = name.replace("rows_", "billed_cost_")
    frame = pd.DataFrame({"day": days, "cost": costs.to_numpy()})
    for number, group in frame.groupby("day"):
        stats = f.outcome.days.setdefault(day_of(number), FileDayStats())
        setattr(stats, name, getattr(stats, name) + len(group))
        stats.add(cost_name, sum((c for c in group["cost"] if isinstance(c, Decimal)), Decimal(0)))


def _reject(f: _File, part: pd.DataFrame) -> None:
    if not part.empty:
        raws = raw_json(f.export.table.frame, part["row_number"])
        f.rejections.append(part.assign(raw=part["row_number"].map(raws)))


def _currency_rejects(bad: pd.DataFrame, why: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": bad[ROW].to_numpy(),
            "stage": "normalized",
            "column": "billing_currency",
            "check": "one_currency_per_key",
            "value": bad["billing_currency"].to_numpy(),
            "reason": f"billing_currency: {why}",
            "request_id": None,
        }
    )


def _one_currency_per_key(items: pd.DataFrame) -> pd.Series:
    """True for line items whose key (in this file) is billed in more than one currency."""
    counts = items.groupby(list(SNAPSHOT_KEY), dropna=False)["billing_currency"].transform(
        "nunique"
    )
    return counts > 1


def _prepare(meta: dict, rank: int, start: dt.date, end: dt.date, current: dict) -> _File:
    name, home = meta["file_name"], meta["first_date"]
    received_day = utc(meta["received_at"]).date()
    export = read_cloud_file(inbox.read_bytes(meta["raw_path"]), name)
    fmt, frame = export.format, export.table.frame
    ts = fmt.timestamps(frame)
    first, last = (day_number(d) for d in partition_range(received_day))
    day = day_numbers(ts)
    undated = day == NO_DAY
    out_of_range = ~undated & ((day < first) | (day > last))
    day = np.where(undated | out_of_range, day_number(home), day)
    in_window = (day >= day_number(start)) & (day < day_number(end))
    rows = frame[ROW].to_numpy()
    f = _File(
        meta,
        rank,
        export,
        FileOutcome(meta["file_checksum"], name, export.source),
        pd.Series(day, index=rows),
        pd.Series(to_decimals(frame[fmt.cost_column]).to_numpy(), index=rows),
    )
    if start <= home < end and export.table.row_errors:
        # Lines that could not be parsed belong to no day: they count on the home day.
        errors = unreadable_rows(export)
        f.day_by_row = pd.concat(
            [f.day_by_row, pd.Series(day_number(home), index=errors["row_number"].to_numpy())]
        )
        f.cost_by_row = pd.concat(
            [
                f.cost_by_row,
                pd.Series(
                    [None] * len(errors), index=errors["row_number"].to_numpy(), dtype=object
                ),
            ]
        )
        f.rejections.append(errors)
    window = frame[in_window & ~out_of_range]
    if (in_window & out_of_range).any():
        f.rejections.append(
            outside_partitions(export, frame[in_window & out_of_range], received_day)
        )
    good_raw, raw_rejects = validate_lazily(window, fmt.raw_schema, "raw", None)
    _reject(f, raw_rejects)
    items = normalize_line_items(
        fmt.to_line_items(good_raw.drop(columns=ROW)), ts.loc[good_raw.index]
    )
    items[ROW] = good_raw[ROW]
    good, norm_rejects = validate_lazily(items, NORMALIZED_SCHEMA, "normalized", None)
    _reject(f, norm_rejects)
    mixed = _one_currency_per_key(good)
    if mixed.any():
        _reject(
            f,
            _currency_rejects(
                good[mixed],
                "line items of one snapshot key and day are billed in several currencies",
            ),
        )
        good = good[~mixed]
    scope = pd.Series(list(zip(*(good[c] for c in SCOPE_COLUMNS), strict=True)), index=good.index)
    mine = scope.map(lambda k: current.get(_scope_key(k)) == f.outcome.checksum).astype(bool)
    if fmt.one_record_per_key:
        # A repeated key in such an export is a correction: the later record supersedes.
        mine &= ~good.duplicated(list(SNAPSHOT_KEY), keep="last")
    good = good.assign(_current=mine, _rank=rank)
    f.items = good
    read = frame[ROW][in_window]
    if start <= home < end and export.table.row_errors:
        errors = pd.Series([e.row for e in export.table.row_errors], dtype=np.int64)
        read = pd.concat([read, errors], ignore_index=True)
    _count(f, "rows_read", read)
    return f


def _scope_key(k: tuple) -> tuple:
    provider, account, period = k
    return (provider, account, pd.Timestamp(period).date() if period is not None else None)


def _resolve(files: list[_File]) -> pd.DataFrame:
    """The line items that land: those of the current export of each scope. Different scopes
    are different bills, so their line items on one key and day add up; if they bill that key
    in different currencies, the latest export's currency stays and the others are rejected."""
    items = [f.items[f.items["_current"]] for f in files if not f.items.empty]
    if not items:
        return pd.DataFrame()
    landed = pd.concat(items)
    key = list(SNAPSHOT_KEY)
    latest = landed.sort_values("_rank").groupby(key, dropna=False)["billing_currency"]
    keep_currency = latest.transform("last")
    conflict = landed["billing_currency"] != keep_currency
    for f in files:
        bad = landed[conflict & (landed["_rank"] == f.rank)]
        if not bad.empty:
            _reject(
                f,
                _currency_rejects(bad, "a later export bills this key and day in another currency"),
            )
            f.items = f.items[~f.items[ROW].isin(bad[ROW])]
    return landed[~conflict]


def _finish(f: _File, landed_rows: set[int]) -> pd.DataFrame:
    rows = f.items[ROW]
    is_landed = rows.isin(landed_rows) if len(rows) else rows.astype(bool)
    _count(f, "rows_landed", rows[is_landed])
    _count(f, "rows_superseded", rows[~is_landed])
    rejected = pd.concat(f.rejections, ignore_index=True) if f.rejections else empty_rejections()
    distinct = rejected["row_number"].drop_duplicates()
    _count(f, "rows_rejected", distinct.astype(np.int64))
    home = day_number(f.meta["first_date"])
    days = rejected["row_number"].map(f.day_by_row).fillna(home).astype(np.int64)
    rejected["partition_date"] = days.map(day_of)
    rejected["file_checksum"] = f.outcome.checksum
    rejected["source_file"] = f.outcome.name
    for day, s in f.outcome.days.items():
        if not (s.rows_balance() and s.cost_balance()):
            raise AssertionError(f"{f.outcome.name} {day}: rows or billed cost do not add up: {s}")
    return rejected


def _to_usd(out: pd.DataFrame, rates: pd.DataFrame) -> None:
    """USD values of bills in other currencies, at the latest rate on or before the day;
    without a rate they stay empty (the ``usd_value_known`` check counts them)."""
    foreign = out["billing_currency"] != "USD"
    if not foreign.any() or rates.empty:
        return
    rate = usd_rates(out.loc[foreign, "billing_currency"], out.loc[foreign, "usage_date"], rates)
    for column in ("billed_cost", "effective_cost"):
        converted = to_usd(out.loc[foreign, column], rate)
        out.loc[foreign, f"{column}_usd"] = [
            None if pd.isna(v) else Decimal(v) for v in converted.to_numpy(dtype=object)
        ]


def _snapshots(files: list[_File], landed: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Roll the landed line items up; each row names the latest export that contributed."""
    if landed.empty:
        return pd.DataFrame()
    out = rollup(landed)
    key = list(SNAPSHOT_KEY)
    latest = landed.groupby(key, dropna=False, as_index=False)["_rank"].max()
    out = out.merge(latest, on=key, how="left")
    ranks = out["_rank"]
    out["source"] = ranks.map({f.rank: f.outcome.source for f in files})
    out["source_file"] = ranks.map({f.rank: f.outcome.checksum for f in files})
    out["source_received_at"] = ranks.map(
        {f.rank: utc(f.meta["received_at"]).to_pydatetime() for f in files}
    )
    usd = out["billing_currency"] == "USD"
    out["billed_cost_usd"] = out["billed_cost"].where(usd, None).astype(object)
    out["effective_cost_usd"] = out["effective_cost"].where(usd, None).astype(object)
    _to_usd(out, rates)
    return out.drop(columns="_rank")


def land_cloud_window(
    engine: sa.Engine,
    start: dt.date,
    end: dt.date,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> CloudWindowResult:
    """Rebuild ``cost_snapshots`` for the UTC days [start, end) from the registered exports,
    widened to every day of the billing scopes the window touches (see ``scope_span``).

    Safe to repeat and to run twice at once. ``register_new_files(kind="cloud")`` runs first
    (the ``raw_cloud_files`` asset) so new inbox files are part of the window.
    """
    now = now or dt.datetime.now(dt.UTC)
    # One cloud window at a time: the current export of a scope is decided and written under
    # the same lock, so a run that began before a re-issue landed cannot write the old values.
    with exclusive(engine, CLOUD.lock):
        start, end = scope_span(engine, start, end)
        metas = files_for_window(engine, start, end, kind=KIND)
        current = current_exports(engine, start, end)
        files = [_prepare(meta, rank, start, end, current) for rank, meta in enumerate(metas)]
        landed = _resolve(files)
        landed_by_file = {
            f.rank: set(landed.loc[landed["_rank"] == f.rank, ROW]) if not landed.empty else set()
            for f in files
        }
        rejects = [_finish(f, landed_by_file[f.rank]) for f in files]
        snapshots = _snapshots(files, landed, load_rates(engine, end))
        changes = replace_window(engine, snapshots, start, end, current, run_id=run_id, now=now)
        rejected = pd.concat(rejects, ignore_index=True) if rejects else empty_rejections()
        store_rejections(engine, rejected, [f.outcome.checksum for f in files], start, end, now)
        store_file_days(engine, [f.outcome for f in files], run_id, now)
    return CloudWindowResult(
        start,
        end,
        changes,
        [f.outcome for f in files],
        reasons(rejected),
    )
