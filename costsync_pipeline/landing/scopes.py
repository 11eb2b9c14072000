"""Billing scopes of cloud exports: which export is the current truth for which days.

A cloud export is the whole bill of one provider's billing account for a billing period (a
scope). A CUR is re-issued many times a month as charges settle: the latest export of a scope
replaces that scope's rows instead of adding to them. Exports without a billing period (seed
001's GPU export) make each day its own period, so a re-issued file replaces the days it covers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.routing import (
    NO_DAY,
    FileInspection,
    Scope,
    dates_of,
    day_of,
    routable_days,
)
from costsync_pipeline.sources.cloud import read_cloud_file
from costsync_pipeline.sources.containers import ROW
from costsync_pipeline.sources.formats import ExportFile
from costsync_pipeline.transforms.cloud import normalize_line_items
from costsync_pipeline.warehouse import tables as t

SCOPE_COLUMNS = ("provider", "billing_account_id", "billing_period_start")


def scope_columns(export: ExportFile) -> pd.DataFrame:
    """Every row's scope columns, normalized as ``normalize_line_items`` does (unvalidated:
    for routing), without parsing the amounts."""
    frame = export.table.frame
    items = export.format.to_line_items(frame.drop(columns=ROW))
    needed = items[["ProviderName", "BillingAccountId", "BillingPeriodStart"]].assign(
        BilledCost=None, EffectiveCost=None, ConsumedQuantity=None
    )
    for column in items.columns.difference(needed.columns):
        needed[column] = ""
    return normalize_line_items(needed, export.format.timestamps(frame))


def scopes_of(items: pd.DataFrame, days: np.ndarray) -> tuple[Scope, ...]:
    """The scopes of the rows that have a day, with the days each covers."""
    keyed = pd.DataFrame(
        {
            "provider": items["provider"].to_numpy(),
            "billing_account_id": items["billing_account_id"].to_numpy(),
            "billing_period_start": items["billing_period_start"].to_numpy(),
            "day": days,
        }
    )
    keyed = keyed[(keyed["day"] != NO_DAY) & (keyed["provider"] != "")]
    # A NUL cannot be stored (nor queried) on PostgreSQL: such rows are rejected later.
    has_nul = keyed["provider"].str.contains("\x00", regex=False) | keyed[
        "billing_account_id"
    ].str.contains("\x00", regex=False)
    keyed = keyed[~has_nul.fillna(False).astype(bool)]
    keyed = keyed[keyed["billing_period_start"].notna()]
    out = []
    for (provider, account, period), group in keyed.groupby(list(SCOPE_COLUMNS), sort=True):
        out.append(
            Scope(
                provider,
                account,
                pd.Timestamp(period).date(),
                day_of(group["day"].min()),
                day_of(group["day"].max()),
            )
        )
    return tuple(out)


def inspect_cloud_file(data: bytes, name: str, received: dt.datetime) -> FileInspection:
    """Read a cloud export far enough to route it; raises UnreadableFile when it cannot land."""
    export = read_cloud_file(data, name)
    days = routable_days(export, received)
    scopes = scopes_of(scope_columns(export), days)
    return FileInspection(export.source, export.table.rows_read, dates_of(days), received, scopes)


def earlier_scope_days(engine: sa.Engine, inspections: list[FileInspection]) -> set[dt.date]:
    """The days earlier exports of the same scopes put rows on: a re-issued export must
    rebuild them too, since rows it no longer has are replaced by nothing."""
    keys = {s.key for info in inspections for s in info.scopes}
    if not keys:
        return set()
    fs = t.landed_file_scopes
    days: set[dt.date] = set()
    with engine.connect() as conn:
        for provider, account, period in keys:
            rows = conn.execute(
                sa.select(fs.c.first_date, fs.c.last_date).where(
                    fs.c.provider == provider,
                    fs.c.billing_account_id == account,
                    fs.c.billing_period_start == period,
                )
            ).all()
            for first, last in rows:
                days.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return days


def _same_scope_as_window(start: dt.date, end: dt.date):
    """The join condition: rows of ``landed_file_scopes`` whose scope has rows in
    [start, end)."""
    fs = t.landed_file_scopes
    touching = (
        sa.select(fs.c.provider, fs.c.billing_account_id, fs.c.billing_period_start)
        .where(fs.c.first_date < end, fs.c.last_date >= start)
        .distinct()
        .subquery()
    )
    return touching, sa.and_(
        fs.c.provider == touching.c.provider,
        fs.c.billing_account_id == touching.c.billing_account_id,
        fs.c.billing_period_start == touching.c.billing_period_start,
    )


def current_exports(engine: sa.Engine, start: dt.date, end: dt.date) -> dict[tuple, str]:
    """For every scope with rows in [start, end): the checksum of its latest export (by
    receipt time, then checksum), wherever that export's own rows fall."""
    fs = t.landed_file_scopes
    touching, same = _same_scope_as_window(start, end)
    query = (
        sa.select(
            fs.c.provider,
            fs.c.billing_account_id,
            fs.c.billing_period_start,
            fs.c.file_checksum,
        )
        .join(touching, same)
        .order_by(fs.c.received_at, fs.c.file_checksum)
    )
    current: dict[tuple, str] = {}
    with engine.connect() as conn:
        for provider, account, period, checksum in conn.execute(query):
            current[(provider, account, period)] = checksum  # the last one wins
    return current


def scope_span(engine: sa.Engine, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) widened to every day of every scope with rows in it.

    The unit a re-issued export replaces is its scope, so a window that touches a scope
    rebuilds all of the scope's days: the run that registers a re-issue removes the rows the
    earlier export had on days the re-issue no longer covers, whatever its own window.
    """
    fs = t.landed_file_scopes
    touching, same = _same_scope_as_window(start, end)
    query = sa.select(sa.func.min(fs.c.first_date), sa.func.max(fs.c.last_date)).join(
        touching, same
    )
    with engine.connect() as conn:
        first, last = conn.execute(query).one()
    if first is None:
        return start, end
    first, last = (
        d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in (first, last)
    )
    return min(start, first), max(end, last + dt.timedelta(days=1))
