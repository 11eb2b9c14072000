"""Edge cases a review found: receipt-bounded routing, newest-wins with repeated content,
concurrent raw-zone copies, NUL characters, malformed LiteLLM usage, set-aside races."""

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.defs.usage.jobs import usage_set_aside_job
from costsync_pipeline.landing import inbox as inbox_files
from costsync_pipeline.resources import InboxResource, WarehouseResource
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline_tests.conftest import RECEIVED, run_concurrently, write
from costsync_pipeline_tests.landing.test_usage_landing import land, rejected, usage_rows

HEADER = "request_id,provider,model,cost,timestamp\n"


def spend_log(i: int, usage) -> dict:
    """A LiteLLM spend-log row whose metadata.usage_object is ``usage``."""
    return {
        "request_id": f"c{i}",
        "startTime": "2026-11-20T10:00:00+00:00",
        "model": "gpt-4o",
        "custom_llm_provider": "openai",
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "spend": 0.01,
        "metadata": json.dumps({"usage_object": usage}),
    }


DAY = 86_400


def test_rows_after_the_receipt_day_stay_rejected_on_every_rebuild(engine, inbox):
    received = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
    write(
        inbox[0],
        "f.csv",
        HEADER + "a,openai,gpt-4o,1,2026-11-21T10:00:00Z\nb,openai,gpt-4o,1,2026-11-22T10:00:00Z\n",
        mtime=received.timestamp(),
    )
    start, end = dt.date(2026, 11, 21), dt.date(2026, 11, 23)
    land(engine, inbox, start, end, now=received)
    later = received + dt.timedelta(days=2)  # the row's day has passed: nothing changes
    land(engine, inbox, start, end, now=later)
    land(engine, inbox, dt.date(2026, 11, 22), end, now=later)
    assert usage_rows(engine)["request_id"].tolist() == ["a"]
    assert [(r["request_id"], r["check"], str(r["partition_date"])) for r in rejected(engine)] == [
        ("b", "within_partitions", "2026-11-21")
    ]
    with engine.connect() as conn:
        days = conn.execute(sa.select(sa.func.sum(t.landed_file_days.c.rows_read))).scalar()
        read = conn.execute(sa.select(t.landed_files.c.rows_read)).scalar()
    assert days == read == 2


def test_newest_file_wins_even_when_it_repeats_an_older_value(engine, inbox):
    write(
        inbox[0], "v1.csv", HEADER + "r1,openai,gpt-4o,0.50,2026-11-19T10:00:00Z\n", mtime=RECEIVED
    )
    write(
        inbox[0],
        "v2.csv",
        HEADER + "r1,openai,gpt-4o,0.75,2026-11-20T10:00:00Z\n",
        mtime=RECEIVED + 10,
    )
    write(
        inbox[0],
        "v3.csv",  # repeats v1's value for r1, and is another file: it also has r9
        HEADER + "r1,openai,gpt-4o,0.50,2026-11-19T10:00:00Z\n"
        "r9,openai,gpt-4o,0.10,2026-11-19T11:00:00Z\n",
        mtime=RECEIVED + 20,
    )
    land(engine, inbox, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    land(engine, inbox, dt.date(2026, 11, 20), dt.date(2026, 11, 21))
    row = usage_rows(engine).set_index("request_id").loc["r1"]
    assert (str(row["usage_date"]), Decimal(str(row["cost_usd"]))) == ("2026-11-19", Decimal("0.5"))


def test_concurrent_copies_into_the_raw_zone(inbox):
    source = write(inbox[0], "big.csv", HEADER + "r,openai,gpt-4o,1,2026-11-20T10:00:00Z\n" * 20000)
    (found,) = inbox_files.list_inbox(inbox[0], "usage")
    errors = run_concurrently(
        lambda: inbox_files.copy_to_raw_zone(found, inbox[0], inbox[1], "usage"), 4
    )
    assert errors == []
    target = Path(inbox_files.raw_zone_path(inbox[1], "usage", found.checksum))
    assert target.read_bytes() == source.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_nul_character_is_a_rejected_row_not_a_failed_partition(engine, inbox):
    rows = [
        {
            "request_id": "ok",
            "provider": "openai",
            "model": "gpt-4o",
            "user_id": "alice",
            "timestamp": "2026-11-20T10:00:00Z",
        },
        {
            "request_id": "nul",
            "provider": "openai",
            "model": "gpt-4o",
            "user_id": "al\x00ice",
            "timestamp": "2026-11-20T10:00:00Z",
        },
    ]
    write(inbox[0], "nul.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    land(engine, inbox)
    assert usage_rows(engine)["request_id"].tolist() == ["ok"]
    assert [(r["column"], r["check"]) for r in rejected(engine)] == [
        ("user_id", "no_nul_character")
    ]


def test_malformed_litellm_usage_counts_are_rejected_rows(engine, inbox):
    frame = pd.DataFrame(
        [
            spend_log(1, {"cache_read_input_tokens": 20}),
            spend_log(2, {"cache_read_input_tokens": "n/a"}),
            spend_log(3, {"cache_read_input_tokens": 12.7}),
            spend_log(4, ["not", "an", "object"]),
            spend_log(5, {"prompt_tokens_details": {"cached_tokens": 12.0}}),
        ]
    )
    write(inbox[0], "spend.csv", frame.to_csv(index=False))
    land(engine, inbox)
    landed = usage_rows(engine).set_index("request_id")
    assert sorted(landed.index) == ["c1", "c5"]
    assert landed.loc["c5", "cache_read_tokens"] == 12
    assert {(r["request_id"], r["check"]) for r in rejected(engine)} == {
        ("c2", "usage_metadata"),
        ("c3", "usage_metadata"),
        ("c4", "usage_metadata"),
    }


def test_set_aside_job_leaves_a_file_that_changed_since_the_sensor_read_it(db_url, inbox):
    path = write(inbox[0], "export.csv", '{"records": [')
    (broken,) = inbox_files.list_inbox(inbox[0], "usage")
    path.write_text(HEADER + "r1,openai,gpt-4o,1,2026-11-20T10:00:00Z\n")  # the copy finished
    os.utime(path, (RECEIVED, RECEIVED))
    result = usage_set_aside_job.execute_in_process(
        run_config={
            "ops": {
                "set_aside_usage_files": {
                    "config": {
                        "files": [
                            {
                                "path": broken.path,
                                "checksum": broken.checksum,
                                "message": "not valid JSON",
                            }
                        ]
                    }
                }
            }
        },
        resources={
            "warehouse": WarehouseResource(database_url=db_url),
            "inbox": InboxResource(inbox_url=inbox[0], raw_zone_url=inbox[1]),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert path.exists() and not (Path(inbox[0]) / "usage" / "failed").exists()


def test_infinite_or_huge_counts_are_rejected_rows(engine, inbox):
    frame = pd.DataFrame(
        [
            spend_log(1, {}),
            spend_log(2, {"cache_read_input_tokens": float("inf")}),
            spend_log(3, {"cache_read_input_tokens": 10**20}),
        ]
    )
    write(inbox[0], "spend.csv", frame.to_csv(index=False))
    write(
        inbox[0],
        "records.csv",
        "request_id,provider,model,timestamp,input_tokens\n"
        "ok,openai,gpt-4o,2026-11-20T10:00:00Z,5\n"
        "huge,openai,gpt-4o,2026-11-20T10:00:00Z,100000000000000000000\n",
    )
    land(engine, inbox)
    assert sorted(usage_rows(engine)["request_id"]) == ["c1", "ok"]
    assert {(r["request_id"], r["check"]) for r in rejected(engine)} == {
        ("c2", "usage_metadata"),
        ("c3", "usage_metadata"),
        ("huge", "integer"),
    }


def test_sensor_plan_and_run_agree_on_the_received_day(engine, inbox):
    """A file's mtime just ahead of the clock at midnight: the plan's cap is the run's cap."""
    from costsync_pipeline.landing.planning import plan_inbox
    from costsync_pipeline.landing.registry import register_new_files
    from costsync_pipeline.landing.usage import land_usage_window

    mtime = dt.datetime(2026, 11, 22, 0, 0, 20, tzinfo=dt.UTC)
    write(
        inbox[0],
        "f.csv",
        HEADER + "a,openai,gpt-4o,1,2026-11-21T10:00:00Z\nb,openai,gpt-4o,1,2026-11-22T00:00:10Z\n",
        mtime=mtime.timestamp(),
    )
    planned = mtime - dt.timedelta(seconds=40)  # the sensor ticked before midnight
    plan = plan_inbox(engine, inbox[0], planned)
    assert sorted(plan.partitions) == ["2026-11-21"]
    run_at = mtime + dt.timedelta(seconds=20)  # the run starts after midnight
    day, next_day = dt.date(2026, 11, 21), dt.date(2026, 11, 22)
    register_new_files(engine, *inbox, day, next_day, run_at, planned_at=planned)
    land_usage_window(engine, day, next_day, now=run_at)
    assert usage_rows(engine)["request_id"].tolist() == ["a"]
    assert [(r["request_id"], r["check"]) for r in rejected(engine)] == [("b", "within_partitions")]
    with engine.connect() as conn:
        days = conn.execute(sa.select(sa.func.sum(t.landed_file_days.c.rows_read))).scalar()
        read, last = conn.execute(
            sa.select(t.landed_files.c.rows_read, t.landed_files.c.last_date)
        ).one()
    assert (days, read, str(last)) == (2, 2, "2026-11-21")


def test_set_aside_job_accepts_runs_requested_without_a_checksum(db_url, inbox):
    path = write(inbox[0], "broken.json", '{"records": [')
    result = usage_set_aside_job.execute_in_process(
        run_config={
            "ops": {
                "set_aside_usage_files": {
                    "config": {"files": [{"path": str(path), "message": "not valid JSON"}]}
                }
            }
        },
        resources={
            "warehouse": WarehouseResource(database_url=db_url),
            "inbox": InboxResource(inbox_url=inbox[0], raw_zone_url=inbox[1]),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert (Path(inbox[0]) / "usage" / "failed" / "broken.json").exists()
