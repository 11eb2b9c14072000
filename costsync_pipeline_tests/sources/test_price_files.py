"""Seed 002 price files and seed 000 model-cost-update events."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from costsync_pipeline.sources.prices.files import PriceFileError, read_price_file

SEED002 = {
    "last_updated": "2026-01-07T10:00:00Z",
    "usd_to_zar": 18.45,
    "providers": {
        "OpenRouter": [
            {
                "model_id": "gpt-4",
                "input_cost_per_1m_tokens": 30.0,
                "output_cost_per_1m_tokens": 60.0,
            },
            {"model_id": "broken", "input_cost_per_1m_tokens": "lots"},
        ],
        "anthropic": [
            {
                "model_id": "Claude-3-Haiku",
                "input_cost_per_1m_tokens": 0.25,
                "output_cost_per_1m_tokens": 1.25,
            }
        ],
    },
}


def test_seed002_file():
    parsed = read_price_file(json.dumps(SEED002).encode(), "ai_costs.json")
    assert parsed.shape == "seed002"
    assert parsed.last_updated == dt.datetime(2026, 1, 7, 10, tzinfo=dt.UTC)
    assert parsed.usd_to_zar == Decimal("18.45")
    got = {(r.provider, r.model): (r.input_per_mtok, r.output_per_mtok) for r in parsed.rows}
    assert got == {
        ("openrouter", "gpt-4"): (Decimal("30.0"), Decimal("60.0")),
        ("anthropic", "claude-3-haiku"): (Decimal("0.25"), Decimal("1.25")),
    }
    assert parsed.problems == [
        ("providers.OpenRouter[1]", "input_cost_per_1m_tokens 'lots' is not a number")
    ]


def test_events_are_per_token_and_read_as_decimals():
    event = {
        "provider": "OpenAI",
        "model": "gpt-4-turbo",
        "inputTokenCost": 0.00001,
        "outputTokenCost": 0.00003,
        "currency": "usd",
    }
    for content in (json.dumps(event), json.dumps([event]), json.dumps(event) + "\n"):
        parsed = read_price_file(content.encode(), "events.json")
        (row,) = parsed.rows
        assert (row.provider, row.model, row.currency) == ("openai", "gpt-4-turbo", "USD")
        assert (row.input_per_mtok, row.output_per_mtok) == (Decimal(10), Decimal(30))


def test_a_bad_event_is_reported_and_the_others_kept():
    events = [
        {"provider": "openai", "model": "a", "inputTokenCost": 1e-6, "outputTokenCost": 2e-6},
        {"provider": "openai", "model": "b", "inputTokenCost": -1, "outputTokenCost": 2e-6},
        {"provider": "", "model": "c", "inputTokenCost": 1e-6, "outputTokenCost": 2e-6},
    ]
    parsed = read_price_file(json.dumps(events).encode(), "e.json")
    assert [r.model for r in parsed.rows] == ["a"]
    assert [where for where, _ in parsed.problems] == ["event 2", "event 3"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"{not json", "not JSON"),
        (b'{"models": []}', "neither a seed 002 price file"),
        (b"[1, 2]", "neither a seed 002 price file"),
    ],
)
def test_files_of_no_known_shape_say_so(content, message):
    with pytest.raises(PriceFileError, match=message) as err:
        read_price_file(content, "prices.json")
    assert "prices.json" in str(err.value)
