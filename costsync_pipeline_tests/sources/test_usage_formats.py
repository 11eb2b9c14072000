"""Format detection from content, the readers, and broken files."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from costsync_pipeline.sources.containers import ROW, UnreadableFile, detect_container
from costsync_pipeline.sources.usage import read_usage_file, usage_formats
from costsync_pipeline_tests.conftest import SAMPLE_USAGE

RECORD = {
    "request_id": "r1",
    "provider": "OpenAI",
    "model": "gpt-4o",
    "input_tokens": 10,
    "output_tokens": 5,
    "cost": 0.01,
    "currency": "USD",
    "timestamp": "2026-11-20T10:00:00Z",
}


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("content", "container"),
    [
        (json.dumps({"records": [RECORD]}).encode(), "json"),
        (json.dumps([RECORD]).encode(), "json"),
        (json.dumps({"records": [RECORD]}, indent=2).encode(), "json"),
        ((json.dumps(RECORD) + "\n" + json.dumps(RECORD)).encode(), "jsonl"),
        (b"request_id,timestamp\nr1,2026-11-20T10:00:00Z\n", "csv"),
        (b"\xef\xbb\xbfrequest_id,timestamp\nr1,2026-11-20T10:00:00Z\n", "csv"),
        (parquet_bytes(pd.DataFrame([RECORD])), "parquet"),
        (b"   \n", "empty"),
    ],
)
def test_container_is_detected_from_content(content, container):
    assert detect_container(content) == container


def test_names_do_not_matter():
    content = (json.dumps(RECORD) + "\n").encode()
    assert read_usage_file(content, "export.csv").source == "costsync.jsonl"
    csv = b"request_id,timestamp,provider\nr1,2026-11-20T10:00:00Z,openai\n"
    assert read_usage_file(csv, "export.json").source == "costsync.csv"


def test_every_sample_is_recognised():
    found = {p.name: read_usage_file(p.read_bytes(), p.name).source for p in SAMPLE_USAGE.iterdir()}
    assert found == {
        "gateway_export.json": "costsync.json",
        "router_usage.jsonl": "costsync.jsonl",
        "team_usage.csv": "costsync.csv",
        "batch_usage.parquet": "costsync.parquet",
        "litellm_spend_logs.csv": "litellm_spend_logs.csv",
    }


def test_formats_are_discovered_from_modules():
    assert [f.name for f in usage_formats()] == ["litellm_spend_logs", "costsync"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b'{"records": [{"request_id": "r1", "timestamp": "2026-11-2', "not valid JSON"),
        (b"request_id,timestamp,provider\n", "no data rows"),
        (b"\xef\xbb\xbfrequest_id,timestamp,provider\n", "no data rows"),
        (b"hello world\n", "not a recognised format"),
        (
            b"request_id,provider,model\nr1,openai,gpt-4o\n",
            "lacks required column(s) ['timestamp']",
        ),
        (b"foo,bar\n1,2\n", "matches no known usage format"),
        (b'{"records": 5}', 'must hold one list under "records" or "cost_data"'),
        (b"PAR1 this is not really parquet", "not a readable Parquet file"),
        (b"request_id,timestamp,request_id\nr1,x,r2\n", "repeats column(s)"),
    ],
)
def test_unreadable_files_say_why_and_name_the_file(content, message):
    with pytest.raises(UnreadableFile) as err:
        read_usage_file(content, "broken.file")
    assert message in str(err.value)
    assert "broken.file" in str(err.value)


def test_truncated_jsonl_keeps_good_lines_and_reports_the_bad_one():
    lines = [json.dumps(RECORD | {"request_id": f"r{i}"}) for i in range(3)]
    content = ("\n".join(lines) + "\n" + lines[0][:25]).encode()
    table = read_usage_file(content, "cut.jsonl").table
    assert table.frame[ROW].tolist() == [1, 2, 3]
    assert [(e.row, "not valid JSON" in e.reason) for e in table.row_errors] == [(4, True)]
    assert table.rows_read == 4


def test_wrong_types_in_jsonl_fall_back_to_line_reading():
    good = json.dumps(RECORD)
    bad = json.dumps(RECORD | {"request_id": "r2", "input_tokens": "lots"})
    table = read_usage_file(f"{good}\n{bad}\n".encode(), "types.jsonl").table
    assert table.frame["input_tokens"].tolist() == [10, "lots"]


def test_csv_row_with_extra_fields_is_a_row_error_with_its_number():
    content = (
        b"request_id,timestamp,provider\n"
        b"r1,2026-11-20T10:00:00Z,openai\n"
        b"r2,2026-11-20T10:00:00Z,openai,EXTRA\n"
        b"r3,2026-11-20T10:00:00Z,openai\n"
    )
    table = read_usage_file(content, "extra.csv").table
    assert table.frame[ROW].tolist() == [1, 3]
    assert [e.row for e in table.row_errors] == [2]
    assert "3" in table.row_errors[0].reason


def test_bom_is_not_part_of_the_first_column():
    content = b"\xef\xbb\xbfrequest_id,timestamp,provider\nr1,2026-11-20T10:00:00Z,openai\n"
    table = read_usage_file(content, "bom.csv").table
    assert table.columns[0] == "request_id"


def test_jsonl_timestamps_stay_text_so_offsets_are_known():
    content = (json.dumps(RECORD) + "\n").encode()
    frame = read_usage_file(content, "t.jsonl").table.frame
    assert frame["timestamp"].iloc[0] == "2026-11-20T10:00:00Z"


def test_routing_read_of_parquet_takes_only_key_and_timestamp():
    content = parquet_bytes(pd.DataFrame([RECORD, RECORD | {"request_id": "r2"}]))
    usage_file = read_usage_file(content, "p.parquet", routing_only=True)
    assert usage_file.format.name == "costsync"
    assert list(usage_file.table.frame.columns) == ["request_id", "timestamp", ROW]
    assert "provider" in usage_file.table.columns
    missing = parquet_bytes(pd.DataFrame([{"request_id": "r1", "provider": "openai"}]))
    with pytest.raises(UnreadableFile, match=r"lacks required column\(s\) \['timestamp'\]"):
        read_usage_file(missing, "p.parquet", routing_only=True)
