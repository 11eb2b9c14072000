"""Normalization into usage_costs columns, and the LiteLLM token-bucket convention."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from costsync_pipeline.schemas.usage import NormalizedUsage
from costsync_pipeline.sources.containers import ROW
from costsync_pipeline.sources.usage import read_usage_file
from costsync_pipeline.transforms.normalize import normalize_usage
from costsync_pipeline.transforms.rejections import validate_lazily

CHECKSUM = "a" * 64
RECEIVED = pd.Timestamp("2026-11-21T00:00:00Z")


def normalized(content: bytes, name: str = "f") -> pd.DataFrame:
    usage_file = read_usage_file(content, name)
    raw = usage_file.table.frame
    records = usage_file.format.to_records(raw.drop(columns=ROW))
    records[ROW] = raw[ROW]
    frame, _ = normalize_usage(
        records, source=usage_file.source, file_checksum=CHECKSUM, received_at=RECEIVED
    )
    frame[ROW] = raw[ROW]
    return frame


def test_provider_and_model_are_trimmed_lower_case():
    content = b"request_id,provider,model,timestamp\nr1,  OpenAI ,GPT-4o ,2026-11-20T10:00:00Z\n"
    row = normalized(content).iloc[0]
    assert (row["provider"], row["model"]) == ("openai", "gpt-4o")


@pytest.mark.parametrize(
    ("text", "utc", "day"),
    [
        ("2026-11-20T10:00:00Z", "2026-11-20 10:00:00", "2026-11-20"),
        ("2026-11-20T01:00:00+05:00", "2026-11-19 20:00:00", "2026-11-19"),
        ("2026-11-20T23:30:00-02:00", "2026-11-21 01:30:00", "2026-11-21"),
        ("2026-11-20 10:00:00", "2026-11-20 10:00:00", "2026-11-20"),
        ("2026-11-20T10:00:00.123456Z", "2026-11-20 10:00:00.123456", "2026-11-20"),
    ],
)
def test_timestamps_become_utc(text, utc, day):
    content = f"request_id,provider,model,timestamp\nr1,openai,gpt-4o,{text}\n".encode()
    row = normalized(content).iloc[0]
    assert row["occurred_at"] == pd.Timestamp(utc, tz="UTC")
    assert str(row["usage_date"]) == day


def test_naive_timestamps_are_counted():
    content = (
        b"request_id,provider,model,timestamp\n"
        b"r1,openai,gpt-4o,2026-11-20 10:00:00\n"
        b"r2,openai,gpt-4o,2026-11-20T10:00:00Z\n"
    )
    usage_file = read_usage_file(content, "f")
    raw = usage_file.table.frame
    records = usage_file.format.to_records(raw.drop(columns=ROW))
    records[ROW] = raw[ROW]
    _, stats = normalize_usage(records, source="x", file_checksum=CHECKSUM, received_at=RECEIVED)
    assert stats.naive_timestamps == 1


def test_cost_is_kept_exactly_as_written_with_its_currency():
    content = (
        b"request_id,provider,model,timestamp,cost,currency\n"
        b"r1,openai,gpt-4o,2026-11-20T10:00:00Z,0.000000123456789,usd\n"
        b"r2,openai,gpt-4o,2026-11-20T10:00:00Z,12.50,EUR\n"
        b"r3,openai,gpt-4o,2026-11-20T10:00:00Z,,\n"
    )
    frame = normalized(content).set_index("request_id")
    assert frame.loc["r1", "reported_cost"] == "0.000000123456789"
    assert frame.loc["r1", "reported_currency"] == "USD"
    assert frame.loc["r1", "cost_usd"] == "0.000000123456789"
    assert (frame.loc["r2", "reported_cost"], frame.loc["r2", "reported_currency"]) == (
        "12.50",
        "EUR",
    )
    assert pd.isna(frame.loc["r2", "reported_cost_usd"])  # converted once FX rates exist
    assert pd.isna(frame.loc["r3", "reported_cost"]) and pd.isna(frame.loc["r3", "cost_usd"])


def spend_log(prompt, completion, usage_object, provider="anthropic"):
    return {
        "request_id": "chatcmpl-1",
        "startTime": "2026-11-20T10:00:00+00:00",
        "model": "claude-sonnet-4-5",
        "custom_llm_provider": provider,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "spend": 0.01,
        "user": "u1",
        "team_id": "t1",
        "organization_id": "o1",
        "metadata": json.dumps({"usage_object": usage_object}),
    }


def test_litellm_prompt_tokens_include_cache_reads_and_writes():
    # Anthropic served through LiteLLM: 1,000 uncached + 3,000 read + 500 written = 4,500.
    row = spend_log(
        4500,
        200,
        {
            "prompt_tokens": 4500,
            "completion_tokens": 200,
            "cache_read_input_tokens": 3000,
            "cache_creation_input_tokens": 500,
            "completion_tokens_details": {"reasoning_tokens": 50},
        },
    )
    content = pd.DataFrame([row]).to_csv(index=False).encode()
    out = normalized(content).iloc[0]
    assert (out["input_tokens"], out["cache_read_tokens"], out["cache_write_tokens"]) == (
        1000,
        3000,
        500,
    )
    assert (out["output_tokens"], out["reasoning_tokens"]) == (200, 50)
    assert out["source"] == "litellm_spend_logs.csv"
    assert out["reported_currency"] == "USD"


def test_litellm_openai_cached_tokens_in_prompt_details():
    row = spend_log(
        2000,
        100,
        {"prompt_tokens": 2000, "prompt_tokens_details": {"cached_tokens": 1536}},
        "openai",
    )
    content = (json.dumps(row) + "\n").encode()
    out = normalized(content).iloc[0]
    assert (out["input_tokens"], out["cache_read_tokens"], out["cache_write_tokens"]) == (
        464,
        1536,
        0,
    )


def test_costsync_records_are_already_disjoint():
    content = (
        b"request_id,provider,model,timestamp,input_tokens,cache_read_tokens,"
        b"cache_write_tokens\nr1,anthropic,claude,2026-11-20T10:00:00Z,1000,3000,500\n"
    )
    out = normalized(content).iloc[0]
    assert (out["input_tokens"], out["cache_read_tokens"], out["cache_write_tokens"]) == (
        1000,
        3000,
        500,
    )


def test_litellm_cache_larger_than_prompt_is_rejected():
    row = spend_log(100, 10, {"cache_read_input_tokens": 300})
    frame = normalized(pd.DataFrame([row]).to_csv(index=False).encode())
    good, rejected = validate_lazily(frame, NormalizedUsage.to_schema(), "normalized", "request_id")
    assert good.empty
    assert rejected.iloc[0]["column"] == "input_tokens"


def test_normalized_schema_reports_every_failure_at_once():
    content = (
        b"request_id,provider,model,timestamp,input_tokens,currency,cost,service_tier,"
        b"reasoning_tokens,output_tokens\n"
        b"r1,openai,gpt-4o,2026-11-20T10:00:00Z,-1,XYZ,-2,ultra,9,3\n"
        b"r2,openai,gpt-4o,2026-11-20T10:00:00Z,1,USD,2,batch,0,3\n"
    )
    good, rejected = validate_lazily(
        normalized(content),
        NormalizedUsage.to_schema(),
        "normalized",
        "request_id",
        {"reasoning_within_output": "reasoning_tokens"},
    )
    assert good["request_id"].tolist() == ["r2"]
    found = set(zip(rejected["column"], rejected["check"], strict=True))
    assert found == {
        ("input_tokens", "non_negative"),
        ("reported_currency", "iso_4217"),
        ("reported_cost", "non_negative_cost"),
        ("service_tier", "known_service_tier"),
        ("reasoning_tokens", "reasoning_within_output"),
    }
    assert set(rejected["row_number"]) == {1}
