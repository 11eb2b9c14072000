"""LiteLLM proxy spend logs: rows of its ``LiteLLM_SpendLogs`` table, as CSV or JSON Lines.

LiteLLM reports usage the OpenAI way: ``prompt_tokens`` INCLUDES cached and cache-creation
tokens, whichever provider served the request (LiteLLM folds Anthropic's separate counts into
it). The split lives in ``metadata.usage_object``: ``cache_read_input_tokens`` or
``prompt_tokens_details.cached_tokens`` for reads, ``cache_creation_input_tokens`` (or
``prompt_tokens_details.cache_creation_tokens``) for writes, and
``completion_tokens_details.reasoning_tokens``. Uncached input is prompt minus both.
``spend`` is in US dollars.
"""

from __future__ import annotations

import json

import pandas as pd
import pandera.pandas as pa

from costsync_pipeline.schemas import checks as ck
from costsync_pipeline.sources.usage.base import RECORD_COLUMNS, UsageFormat


def _parse(value) -> dict | None:
    """A metadata cell as a dict; None when missing; raises ValueError when not an object."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    if isinstance(value, dict):
        return value
    text = str(value).strip()
    if text.lower() in ck.MISSING_TEXT:
        return None
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("metadata is not a JSON object")
    return parsed


def _metadata_ok(value) -> bool:
    try:
        _usage_counts(_parse(value))
        return True
    except (ValueError, TypeError, AttributeError, OverflowError):
        return False


def _metadata_like(s: pd.Series) -> pd.Series:
    return pd.Series([_metadata_ok(v) for v in s], index=s.index, dtype=bool)


USAGE_METADATA = pa.Check(
    _metadata_like,
    name="usage_metadata",
    error="not a JSON object whose usage_object token counts are whole, non-negative numbers",
)

RAW_SCHEMA = pa.DataFrameSchema(
    {
        "request_id": pa.Column(None, checks=[ck.NOT_BLANK], nullable=False),
        "startTime": pa.Column(None, checks=[ck.NOT_BLANK, ck.TIMESTAMP], nullable=False),
        "prompt_tokens": pa.Column(None, checks=[ck.INTEGER], nullable=True, required=False),
        "completion_tokens": pa.Column(None, checks=[ck.INTEGER], nullable=True, required=False),
        "spend": pa.Column(None, checks=[ck.DECIMAL], nullable=True, required=False),
        "metadata": pa.Column(None, checks=[USAGE_METADATA], nullable=True, required=False),
    },
    name="litellm_spend_logs_raw",
    strict=False,
)


def _whole(value) -> int:
    """A token count: a whole, non-negative number (12.0 is fine, 12.7 and "n/a" are not)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a token count: {value!r}")
    if not 0 <= value < ck.MAX_COUNT:  # also refuses NaN and infinity
        raise ValueError(f"not a token count: {value!r}")
    if value != int(value):
        raise ValueError(f"not a whole number of tokens: {value!r}")
    return int(value)


def _usage_counts(meta: dict | None) -> tuple[int, int, int]:
    """(cache_read, cache_write, reasoning) from a metadata object; ValueError when malformed."""
    usage = (meta or {}).get("usage_object") or {}
    if not isinstance(usage, dict):
        raise ValueError("usage_object is not an object")
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    read = usage.get("cache_read_input_tokens")
    if read is None:
        read = prompt_details.get("cached_tokens")
    write = usage.get("cache_creation_input_tokens")
    if write is None:
        write = prompt_details.get("cache_creation_tokens")
    reasoning = completion_details.get("reasoning_tokens")
    return _whole(read), _whole(write), _whole(reasoning)


def to_records(raw: pd.DataFrame) -> pd.DataFrame:
    idx = raw.index
    column = lambda name: raw[name] if name in raw.columns else pd.Series(pd.NA, index=idx)  # noqa: E731
    if "metadata" in raw.columns:
        counts = [_usage_counts(_parse(v)) for v in raw["metadata"]]
        cache = pd.DataFrame(counts, index=idx, columns=["read", "write", "reasoning"])
    else:
        cache = pd.DataFrame(0, index=idx, columns=["read", "write", "reasoning"])
    prompt = ck.to_number(column("prompt_tokens")).fillna(0)
    provider = column("custom_llm_provider")
    model = column("model")
    # A blank provider with an "openai/gpt-4o" style model names the provider in the model.
    split = model.astype("str").str.split("/", n=1)
    has_prefix = ck.blank_mask(provider) & model.astype("str").str.contains("/", regex=False)
    provider = provider.where(~has_prefix, split.str[0])
    model = model.where(~has_prefix, split.str[1])
    out = {
        "request_id": column("request_id"),
        "user_id": column("user"),
        "organization_id": column("organization_id"),
        "team_id": column("team_id"),
        "provider": provider,
        "model": model,
        "input_tokens": prompt - cache["read"] - cache["write"],
        "output_tokens": column("completion_tokens"),
        "cache_read_tokens": cache["read"],
        "cache_write_tokens": cache["write"],
        "reasoning_tokens": cache["reasoning"],
        "cost": column("spend"),
        "currency": pd.Series("USD", index=idx).where(~ck.blank_mask(column("spend"))),
        "timestamp": column("startTime"),
    }
    return pd.DataFrame(
        {c: out.get(c, pd.Series(pd.NA, index=idx)) for c in RECORD_COLUMNS}, index=idx
    )


def _matches(columns: set[str]) -> bool:
    return "startTime" in columns and ("spend" in columns or "custom_llm_provider" in columns)


FORMAT = UsageFormat(
    name="litellm_spend_logs",
    containers=frozenset({"csv", "jsonl", "json"}),
    matches=_matches,
    required_columns=("request_id", "startTime", "model"),
    timestamp_column="startTime",
    key_column="request_id",
    raw_schema=RAW_SCHEMA,
    to_records=to_records,
    priority=10,
)
