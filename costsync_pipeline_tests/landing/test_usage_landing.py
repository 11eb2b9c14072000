"""Landing usage files end to end on SQLite and PostgreSQL, with real and broken files."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.registry import register_new_files
from costsync_pipeline.landing.usage import land_usage_window
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.engine import make_engine
from costsync_pipeline_tests.conftest import (
    NOW,
    RECEIVED,
    SAMPLE_USAGE,
    drop,
    run_concurrently,
    table_fingerprint,
    write,
)

START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 23)
EXCLUDE_TIMES = ("ingested_at", "updated_at", "rejected_at", "landed_at", "run_id")


def land(engine, inbox, start=START, end=END, now=NOW):
    inbox_url, raw_url = inbox
    set_aside = register_new_files(engine, inbox_url, raw_url, start, end, now)
    return set_aside, land_usage_window(engine, start, end, run_id="test", now=now)


def usage_rows(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.select(t.usage_costs)).mappings().all())


def rejected(engine) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.select(t.rejected_records).order_by(t.rejected_records.c.row_number)
            ).mappings()
        ]


def fingerprints(engine):
    return (
        table_fingerprint(engine, "usage_costs", "request_id", EXCLUDE_TIMES),
        table_fingerprint(
            engine, "rejected_records", "file_checksum, row_number, stage", EXCLUDE_TIMES
        ),
        table_fingerprint(engine, "landed_file_days", "file_checksum, usage_date", EXCLUDE_TIMES),
    )


def test_samples_land_with_every_row_accounted_for(engine, inbox):
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    set_aside, result = land(engine, inbox)
    assert set_aside == []
    assert {f.source for f in result.files} == {
        "costsync.json",
        "costsync.jsonl",
        "costsync.csv",
        "costsync.parquet",
        "litellm_spend_logs.csv",
    }
    for f in result.files:
        s = f.total()
        assert s.rows_read == s.rows_landed + s.rows_rejected + s.rows_duplicate, f.name
    by_name = {f.name: f.total() for f in result.files}
    envelope = by_name["gateway_export.json"]
    assert (envelope.rows_read, envelope.rows_rejected, envelope.rows_duplicate) == (25, 2, 1)
    # gateway_export.json's first row is corrected by team_usage.csv: one row superseded.
    assert result.superseded == 1
    rows = usage_rows(engine)
    assert len(rows) == result.counts.inserted == 79
    assert rows["request_id"].is_unique
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.sum(t.landed_file_days.c.rows_read))).scalar_one()
    assert stored == sum(f.total().rows_read for f in result.files) == 83


def test_provider_model_lowercase_and_utc(engine, inbox):
    drop(inbox[0], SAMPLE_USAGE / "gateway_export.json")
    land(engine, inbox)
    rows = usage_rows(engine).set_index("request_id")
    assert set(rows["provider"]) <= {"openai", "anthropic", "google", "cohere"}
    assert "claude-haiku-4-5" in set(rows["model"])
    # "2026-11-19T01:30:00+02:00" is the evening before in UTC.
    offset = rows.loc["req-18-0006"]
    assert utc(offset["occurred_at"]) == pd.Timestamp("2026-11-18 23:30:00", tz="UTC")
    assert str(offset["usage_date"]) == "2026-11-18"
    naive = rows.loc["req-19-0007"]  # "2026-11-20 10:00:00": no offset, taken as UTC
    assert utc(naive["occurred_at"]) == pd.Timestamp("2026-11-20 10:00:00", tz="UTC")
    assert str(naive["usage_date"]) == "2026-11-20"


def utc(value) -> pd.Timestamp:
    """SQLite returns naive datetimes (stored as UTC), PostgreSQL aware ones."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def test_duplicate_in_one_file_later_record_wins(engine, inbox):
    drop(inbox[0], SAMPLE_USAGE / "gateway_export.json")
    _, result = land(engine, inbox)
    row = usage_rows(engine).set_index("request_id").loc["req-19-0010"]
    assert row["output_tokens"] == 999
    assert Decimal(str(row["reported_cost"])) == Decimal("0.0111")
    assert result.total().rows_duplicate == 1


def test_rejections_name_file_row_column_check_value_and_raw(engine, inbox):
    drop(inbox[0], SAMPLE_USAGE / "gateway_export.json")
    land(engine, inbox)
    rows = {r["column"]: r for r in rejected(engine)}
    neg = rows["input_tokens"]
    assert neg["source_file"] == "gateway_export.json"
    assert neg["row_number"] == 9  # the ninth record of the envelope
    assert neg["check"] == "non_negative"
    assert neg["value"] == "-40"
    assert neg["request_id"] == "req-20-0008"
    assert json.loads(neg["raw"])["input_tokens"] == -40
    cur = rows["reported_currency"]
    assert (cur["check"], cur["value"], cur["row_number"]) == ("iso_4217", "XYZ", 10)
    assert "ISO 4217" in cur["reason"]


def test_rerun_and_redrop_leave_tables_identical(engine, inbox):
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    land(engine, inbox)
    first = fingerprints(engine)
    _, again = land(engine, inbox)
    assert again.counts.inserted == again.counts.updated == 0
    # Every landed row is offered again (80), including the one a later file supersedes.
    assert again.counts.unchanged == 80
    # The same content dropped again under another name is the same file.
    drop(inbox[0], SAMPLE_USAGE / "team_usage.csv", name="team_usage (copy).csv")
    set_aside, _ = land(engine, inbox)
    assert set_aside == []
    assert fingerprints(engine) == first
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.landed_files)).scalar() == 5


def test_corrected_reexport_supersedes_by_natural_key(engine, inbox):
    header = "request_id,provider,model,input_tokens,output_tokens,cost,currency,timestamp\n"
    write(
        inbox[0],
        "export-v1.csv",
        header + "r1,OpenAI,gpt-4o,100,10,0.50,USD,2026-11-20T10:00:00Z\n"
        "r2,OpenAI,gpt-4o,100,10,0.25,USD,2026-11-20T11:00:00Z\n",
        mtime=RECEIVED,
    )
    land(engine, inbox)
    write(
        inbox[0],
        "export-v2.csv",
        header + "r1,OpenAI,gpt-4o,100,10,0.75,USD,2026-11-20T10:00:00Z\n",
        mtime=RECEIVED + 100,
    )
    _, result = land(engine, inbox)
    assert result.counts.updated == 1
    rows = usage_rows(engine).set_index("request_id")
    assert Decimal(str(rows.loc["r1", "cost_usd"])) == Decimal("0.75")
    assert Decimal(str(rows.loc["r2", "cost_usd"])) == Decimal("0.25")
    # Rebuilding the day from the raw zone (no new files) keeps the newer value.
    land(engine, inbox)
    rows = usage_rows(engine).set_index("request_id")
    assert Decimal(str(rows.loc["r1", "cost_usd"])) == Decimal("0.75")


def test_older_file_processed_later_does_not_overwrite_newer(engine, inbox):
    header = "request_id,provider,model,cost,timestamp\n"
    write(
        inbox[0],
        "new.csv",
        header + "r1,openai,gpt-4o,2.00,2026-11-20T10:00:00Z\n",
        mtime=RECEIVED + 100,
    )
    land(engine, inbox)
    write(
        inbox[0],
        "old.csv",
        header + "r1,openai,gpt-4o,1.00,2026-11-20T10:00:00Z\n",
        mtime=RECEIVED,
    )
    land(engine, inbox)
    assert Decimal(str(usage_rows(engine).iloc[0]["cost_usd"])) == Decimal("2.00")


def test_concurrent_runs_of_one_partition(engine, inbox):
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    register_new_files(engine, inbox[0], inbox[1], START, END, NOW)
    errors = run_concurrently(
        lambda: land_usage_window(engine, START, END, run_id="concurrent", now=NOW), 2
    )
    assert errors == []
    together = fingerprints(engine)
    land_usage_window(engine, START, END, run_id="concurrent", now=NOW)
    assert fingerprints(engine) == together
    assert together[0][0] == 79


def test_partition_window_only_lands_its_days(engine, inbox):
    drop(inbox[0], SAMPLE_USAGE / "gateway_export.json")
    _, result = land(engine, inbox, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    rows = usage_rows(engine)
    assert set(rows["usage_date"].astype(str)) == {"2026-11-19"}
    # The other days' rows are landed by their own partitions, and counted there.
    _, rest = land(engine, inbox)
    assert result.total().rows_read < rest.total().rows_read
    assert len(usage_rows(engine)) == 22


def test_future_and_ancient_timestamps_are_rejected_not_lost(engine, inbox):
    header = "request_id,provider,model,timestamp\n"
    write(
        inbox[0],
        "times.csv",
        header
        + "ok,openai,gpt-4o,2026-11-20T10:00:00Z\n"
        + "future,openai,gpt-4o,2031-01-01T00:00:00Z\n"
        + "ancient,openai,gpt-4o,1999-01-01T00:00:00Z\n"
        + "garbage,openai,gpt-4o,yesterday-ish\n",
    )
    _, result = land(engine, inbox)
    assert result.total().rows_read == 4 and result.total().rows_rejected == 3
    checks = {r["request_id"]: r["check"] for r in rejected(engine)}
    assert checks == {
        "future": "within_partitions",
        "ancient": "within_partitions",
        "garbage": "iso8601_timestamp",
    }


def test_any_day_rebuilds_from_the_raw_zone_without_the_inbox(engine, inbox):
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    land(engine, inbox)
    before = fingerprints(engine)
    for f in (Path(inbox[0]) / "usage").iterdir():
        f.unlink()  # the inbox is emptied (retention, a bucket lifecycle rule)
    with engine.begin() as conn:
        conn.execute(
            sa.delete(t.usage_costs).where(t.usage_costs.c.usage_date == dt.date(2026, 11, 19))
        )
    _, result = land(engine, inbox, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    assert result.counts.inserted > 0
    assert fingerprints(engine)[0][:2] == before[0][:2]
    assert fingerprints(engine)[1:] == before[1:]


def test_two_processes_landing_one_partition_at_once(db_url, inbox):
    """Dagster runs are processes: two of them on one day leave the tables as one would."""
    import subprocess
    import sys

    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    script = (
        "import datetime as dt, sys\n"
        "from costsync_pipeline.warehouse.engine import make_engine\n"
        "from costsync_pipeline.warehouse.migrations import ensure_schema\n"
        "from costsync_pipeline.landing.registry import register_new_files\n"
        "from costsync_pipeline.landing.usage import land_usage_window\n"
        "e = make_engine(sys.argv[1]); ensure_schema(e)\n"
        "s, n = dt.date(2026, 11, 19), dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)\n"
        "register_new_files(e, sys.argv[2], sys.argv[3], s, s + dt.timedelta(days=1), n)\n"
        "land_usage_window(e, s, s + dt.timedelta(days=1), run_id='p', now=n)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, db_url, *inbox], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    engine = make_engine(db_url)
    together = fingerprints(engine)
    land(engine, inbox, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    assert fingerprints(engine) == together
    with engine.connect() as conn:
        files = conn.execute(sa.select(sa.func.count()).select_from(t.landed_files)).scalar()
    assert files == 3  # the files with rows on 2026-11-19, each registered once
    engine.dispose()
