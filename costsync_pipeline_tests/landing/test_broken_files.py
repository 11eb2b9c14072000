"""Deliberately broken files: set aside or rejected row by row, never a crash or a silent drop."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from costsync_pipeline.warehouse import tables as t
from costsync_pipeline_tests.conftest import SAMPLE_USAGE, drop, write
from costsync_pipeline_tests.landing.test_usage_landing import land, rejected, usage_rows

RECORD = {
    "request_id": "r1",
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 5,
    "cost": "0.01",
    "currency": "USD",
    "timestamp": "2026-11-20T10:00:00Z",
}


def test_unreadable_files_are_set_aside_and_the_others_land(engine, inbox):
    inbox_url = inbox[0]
    drop(inbox_url, SAMPLE_USAGE / "team_usage.csv")
    write(inbox_url, "truncated.json", json.dumps({"records": [RECORD] * 3})[:-30])
    write(inbox_url, "empty.csv", b"")
    write(inbox_url, "header_only.csv", "request_id,timestamp,provider\n")
    write(inbox_url, "being_written.csv.part", "request_id,timestamp\n")
    set_aside, result = land(engine, inbox)
    assert sorted(name for name, _ in set_aside) == [
        "empty.csv",
        "header_only.csv",
        "truncated.json",
    ]
    assert len(usage_rows(engine)) == 11
    failed = Path(inbox_url) / "usage" / "failed"
    assert sorted(p.name for p in failed.iterdir()) == [
        "empty.csv",
        "empty.csv.error.txt",
        "header_only.csv",
        "header_only.csv.error.txt",
        "truncated.json",
        "truncated.json.error.txt",
    ]
    assert "not valid JSON" in (failed / "truncated.json.error.txt").read_text()
    assert (Path(inbox_url) / "usage" / "being_written.csv.part").exists()  # not touched
    files = {r["source_file"]: r for r in rejected(engine) if r["stage"] == "file"}
    assert set(files) == {"empty.csv", "header_only.csv", "truncated.json"}
    assert "truncated.json" in files["truncated.json"]["reason"]
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(sa.select(t.landed_files.c.file_name, t.landed_files.c.status)).all()
        )
    assert statuses["truncated.json"] == "set_aside"
    assert statuses["team_usage.csv"] == "landed"


def test_wrong_types_negative_tokens_unknown_currency_rejected_good_rows_land(engine, inbox):
    lines = [
        RECORD | {"request_id": "good"},
        RECORD | {"request_id": "text-tokens", "input_tokens": "lots"},
        RECORD | {"request_id": "negative", "output_tokens": -5},
        RECORD | {"request_id": "money", "currency": "DOLLARS"},
        RECORD | {"request_id": "price", "cost": "$10,000.00 "},
        RECORD | {"request_id": "flag", "downgraded": "maybe"},
        RECORD | {"request_id": "", "model": "gpt-4o"},
    ]
    write(inbox[0], "mixed.jsonl", "\n".join(json.dumps(x) for x in lines) + '\n{"request_id"')
    _, result = land(engine, inbox)
    assert usage_rows(engine)["request_id"].tolist() == ["good"]
    reasons = {(r["row_number"], r["column"], r["check"]) for r in rejected(engine)}
    assert reasons == {
        (2, "input_tokens", "integer"),
        (3, "output_tokens", "non_negative"),
        (3, "reasoning_tokens", "reasoning_within_output"),  # 0 > -5: both rules say so
        (4, "reported_currency", "iso_4217"),
        (5, "cost", "decimal"),
        (6, "downgraded", "boolean"),
        (7, "request_id", "not_blank"),
        (8, "", "parse"),
    }
    f = result.files[0].total()
    assert (f.rows_read, f.rows_landed, f.rows_rejected, f.rows_duplicate) == (8, 1, 7, 0)


def test_missing_optional_column_rejects_rows_by_name(engine, inbox):
    write(
        inbox[0],
        "no_model.csv",
        "request_id,provider,timestamp\nr1,openai,2026-11-20T10:00:00Z\n"
        "r2,openai,2026-11-20T11:00:00Z\n",
    )
    _, result = land(engine, inbox)
    assert result.total().rows_rejected == 2
    assert {(r["row_number"], r["column"], r["check"]) for r in rejected(engine)} == {
        (1, "model", "not_nullable"),
        (2, "model", "not_nullable"),
    }
    assert {r["reason"] for r in rejected(engine)} == {"model: value is missing"}


def test_bom_and_literal_nulls(engine, inbox):
    write(
        inbox[0],
        "bom.csv",
        b"\xef\xbb\xbfrequest_id,provider,model,timestamp,team_id,cost\n"
        b"r1,openai,gpt-4o,2026-11-20T10:00:00Z,NULL,0.5\n",
    )
    land(engine, inbox)
    row = usage_rows(engine).iloc[0]
    assert row["request_id"] == "r1"
    assert row["team_id"] is None


def test_fixed_rule_clears_an_earlier_rejection(engine, inbox):
    """A rejection that no longer applies on a re-run is removed (not counted twice)."""
    write(
        inbox[0],
        "a.csv",
        "request_id,provider,model,timestamp\nr1,openai,gpt-4o,2026-11-20T10:00:00Z\n",
    )
    land(engine, inbox)
    landed = usage_rows(engine).iloc[0]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.rejected_records).values(
                file_checksum=landed["source_file"],
                row_number=1,
                stage="raw",
                column="model",
                check="made_up",
                source_file="a.csv",
                partition_date=landed["usage_date"],
                reason="stale",
                rejected_at=sa.func.now(),
            )
        )
    land(engine, inbox)
    assert rejected(engine) == []
