"""LiteLLM's price map as price rows: tiers, long-context thresholds, cache rates, the shape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.sources.prices.litellm_map import (
    PriceMapError,
    parse_price_map,
    per_mtok,
)

MAP = DATA_DIR / "prices" / "litellm_model_prices.json"


@pytest.fixture(scope="module")
def rows():
    parsed = parse_price_map(json.loads(MAP.read_text()))
    return {(r.provider, r.model, r.service_tier, r.min_prompt_tokens): r for r in parsed}


def test_rates_are_exact_per_million(rows):
    gpt = rows[("openai", "gpt-4o", "standard", 0)]
    assert (gpt.input_per_mtok, gpt.output_per_mtok, gpt.cache_read_per_mtok) == (
        Decimal("2.5"),
        Decimal("10"),
        Decimal("1.25"),
    )
    assert gpt.cache_write_per_mtok is None and gpt.currency == "USD"
    assert per_mtok(1.25e-07) == Decimal("0.125")  # no binary float drift


def test_service_tiers_fall_back_to_the_standard_rate(rows):
    batch = rows[("openai", "gpt-4o", "batch", 0)]
    assert (batch.input_per_mtok, batch.output_per_mtok) == (Decimal("1.25"), Decimal("5"))
    assert batch.cache_read_per_mtok == Decimal("1.25")  # no _batches cache key: standard
    assert ("openai", "gpt-4o", "flex", 0) not in rows  # gpt-4o has no flex keys
    assert rows[("openai", "gpt-5", "flex", 0)].input_per_mtok == Decimal("0.625")


def test_long_context_rows_carry_every_rate_above_the_threshold(rows):
    above = rows[("gemini", "gemini-2.5-pro", "standard", 200_000)]
    assert (above.input_per_mtok, above.output_per_mtok, above.cache_read_per_mtok) == (
        Decimal("2.5"),
        Decimal("15"),
        Decimal("0.25"),
    )
    priority = rows[("gemini", "gemini-2.5-pro", "priority", 200_000)]
    assert (priority.input_per_mtok, priority.output_per_mtok) == (Decimal("4.5"), Decimal("27"))


def test_one_hour_cache_writes(rows):
    claude = rows[("anthropic", "claude-sonnet-4-5", "standard", 0)]
    assert claude.cache_write_per_mtok == Decimal("3.75")
    assert claude.cache_write_1h_per_mtok == Decimal("6")


def test_only_token_priced_entries_and_bare_keys(rows):
    assert not any(r.model == "sample_spec" for r in rows.values())
    # "<provider>/<model>" keys are the same model as the bare key; a key that repeats the
    # provider ("perplexity/perplexity/sonar") keeps the rest as its model name.
    assert ("openai", "openai/gpt-4o", "standard", 0) not in rows
    assert ("perplexity", "perplexity/sonar", "standard", 0) in rows
    assert len({(k[0], k[1]) for k in rows}) > 3000


@pytest.mark.parametrize("document", [[], {}, {"x": 1}, {"m": {"litellm_provider": "openai"}}])
def test_documents_that_are_not_price_maps_are_refused(document):
    with pytest.raises(PriceMapError):
        parse_price_map(document)
