"""Materialization metadata for usage_costs: the figures a data engineer looks at first."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.landing.outcomes import WindowResult
from costsync_pipeline.landing.writes import window_totals


def md_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def window_metadata(engine: sa.Engine, result: WindowResult) -> dict:
    totals = window_totals(engine, result.start, result.end)
    files = [
        [o.name, o.source, s.rows_read, s.rows_landed, s.rows_rejected, s.rows_duplicate]
        for o in result.files
        for s in [o.total()]
    ]
    preview = totals["preview"]
    last = result.end - dt.timedelta(days=1)
    single_day = last == result.start
    # A single-run backfill records one result for its whole range: every partition of it
    # carries the range's figures, with the per-day rows in `rows_by_day`; `dagster/row_count`
    # is only set when it is the partition's own count.
    per_day = {"dagster/row_count": totals["rows"]} if single_day else {}
    return {
        "window": str(result.start) if single_day else f"{result.start} to {last}",
        **per_day,
        "rows_in_window": totals["rows"],
        "rows_by_day": dg.MetadataValue.md(
            md_table(["usage_date", "rows", "cost_usd"], [list(r) for r in totals["by_day"]])
        ),
        "rows_read": result.total().rows_read,
        "inserted": result.counts.inserted,
        "updated": result.counts.updated,
        "unchanged": result.counts.unchanged,
        "rejected": result.total().rows_rejected,
        "duplicates": result.total().rows_duplicate,
        "superseded_by_later_file": result.superseded,
        "naive_timestamps_taken_as_utc": sum(o.naive_timestamps for o in result.files),
        "currency_defaulted_to_usd": sum(o.currency_defaulted for o in result.files),
        "total_cost_usd": float(totals["cost_usd"] or 0),
        "total_cost_usd_exact": str(totals["cost_usd"] or 0),
        "files": dg.MetadataValue.md(
            md_table(["file", "format", "read", "landed", "rejected", "duplicates"], files)
        ),
        "rejected_by_reason": dg.MetadataValue.md(
            md_table(["reason", "rows"], [[k, v] for k, v in result.rejected_by_reason.items()])
        ),
        "preview": dg.MetadataValue.md(
            md_table(list(preview[0].keys()), [list(r.values()) for r in preview])
            if preview
            else "no rows"
        ),
    }
