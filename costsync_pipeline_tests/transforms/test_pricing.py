"""Cost of usage rows from effective-dated prices: the rules of transforms/pricing.py by hand."""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.sources.prices.litellm_map import parse_price_map
from costsync_pipeline.transforms.pricing import PriceBook, price_usage

BEGINNING = pd.Timestamp("1970-01-01", tz="UTC")
T1 = pd.Timestamp("2026-03-01", tz="UTC")
T2 = pd.Timestamp("2026-06-01", tz="UTC")
US = pd.Timedelta(microseconds=1)
TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")


def price(
    version="v1",
    provider="openai",
    model="gpt-4o",
    tier="standard",
    above=0,
    rates=("2.5", "10", None, None),
    currency="USD",
    valid_from=BEGINNING,
    valid_to=None,
) -> dict:
    in_rate, out_rate, read, write = rates
    return {
        "version": version,
        "provider": provider,
        "model": model,
        "service_tier": tier,
        "min_prompt_tokens": above,
        "input_per_mtok": None if in_rate is None else Decimal(in_rate),
        "output_per_mtok": None if out_rate is None else Decimal(out_rate),
        "cache_read_per_mtok": None if read is None else Decimal(read),
        "cache_write_per_mtok": None if write is None else Decimal(write),
        "cache_write_1h_per_mtok": None,
        "currency": currency,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "source": "test",
    }


def book(*prices: dict) -> PriceBook:
    return PriceBook.from_frame(pd.DataFrame(list(prices)))


def request(
    model="gpt-4o", provider="openai", tier="standard", at=T2, tokens=(1000, 0, 0, 0)
) -> dict:
    return {
        "provider": provider,
        "model": model,
        "service_tier": tier,
        "occurred_at": at,
        **dict(zip(TOKENS, tokens, strict=True)),
    }


def priced(prices: PriceBook, *requests: dict, index=None) -> pd.DataFrame:
    usage = pd.DataFrame(list(requests), index=index)
    usage["occurred_at"] = pd.to_datetime(usage["occurred_at"], utc=True)
    for c in ("provider", "model", "service_tier"):
        usage[c] = usage[c].astype("str")
    for c in TOKENS:
        usage[c] = usage[c].astype("Int64")
    return price_usage(usage, prices)


def costs(out: pd.DataFrame) -> list:
    return [None if pd.isna(c) else Decimal(c) for c in out["computed_cost_usd"]]


def test_the_version_valid_at_occurred_at_prices_a_request_not_the_latest():
    prices = book(
        price("old", rates=("2.5", "10", None, None), valid_to=T1),
        price("new", rates=("2", "8", None, None), valid_from=T1),
    )
    out = priced(
        prices,
        request(at=T1 - US),  # just before the change
        request(at=T1),  # exactly at valid_from: the new price
        request(at=T2),
    )
    assert out["price_version"].tolist() == ["old", "new", "new"]
    assert costs(out) == [Decimal("0.0025"), Decimal("0.002"), Decimal("0.002")]
    assert out["price_status"].tolist() == ["priced"] * 3


def test_emptied_versions_never_match():
    prices = book(
        price("first", valid_to=T1),
        price("emptied", rates=("99", "99", None, None), valid_from=T1, valid_to=T1),
        price("second", rates=("3", "10", None, None), valid_from=T1),
        price("gone", model="gone", valid_from=T1, valid_to=T1),
    )
    out = priced(prices, request(at=T1), request(model="gone", at=T1))
    assert out["price_version"].tolist()[0] == "second"
    assert out["price_status"].tolist() == ["priced", "no_price"]


def test_a_request_outside_every_version_has_no_price_at_its_time():
    prices = book(price("only", valid_from=T1, valid_to=T2))
    out = priced(
        prices,
        request(at=T1 - US),
        request(at=T2),  # valid_to is exclusive
        request(at=T1 + US),
        request(at=pd.NaT),
    )
    assert out["price_status"].tolist() == [
        "no_price_at_time",
        "no_price_at_time",
        "priced",
        "no_price_at_time",
    ]
    assert out["price_version"].isna().tolist() == [True, True, False, True]


def test_the_rows_tier_else_standard():
    prices = book(
        price("std", rates=("2.5", "10", "1.25", None)),
        price("batch", tier="batch", rates=("1.25", "5", None, None)),
        price("prio", tier="priority", rates=("4.25", "17", "2.125", None), valid_from=T1),
    )
    out = priced(
        prices,
        request(tier="batch"),
        request(tier="flex"),  # no flex rows: standard
        request(tier="priority", at=T1 - US),  # no priority rows yet: standard
        request(tier="priority"),
        request(tier=" PRIORITY "),
        request(tier="turbo"),  # unknown: standard
        request(tier=None),
    )
    assert out["price_version"].tolist() == ["batch", "std", "std", "prio", "prio", "std", "std"]


def test_a_key_without_standard_rows_prices_only_its_tiers():
    prices = book(price("batch", tier="batch"))
    out = priced(prices, request(tier="batch"), request(tier="standard"))
    assert out["price_status"].tolist() == ["priced", "no_price"]


LONG = (
    price("base", rates=("1.25", "10", "0.125", "1.5")),
    price("200k", above=200_000, rates=("2.5", "15", "0.25", "3")),
)


@pytest.mark.parametrize(
    ("tokens", "version", "cost"),
    [
        # prompt = input + cache read + cache write = 200,000: exactly at the threshold
        ((150_000, 40_000, 10_000, 1_000), "base", "0.2175"),
        # one token above: the long-context rates for every token type
        ((150_001, 40_000, 10_000, 1_000), "200k", "0.4300025"),
        # output tokens are not prompt tokens
        ((200_000, 0, 0, 1_000_000), "base", "10.25"),
        ((0, 200_001, 0, 0), "200k", "0.05000025"),
    ],
)
def test_long_context_boundary(tokens, version, cost):
    out = priced(book(*LONG), request(tokens=tokens))
    assert out["price_version"].tolist() == [version]
    assert costs(out) == [Decimal(cost)]


def test_the_highest_threshold_exceeded_applies():
    prices = book(
        price("base", rates=("1", "1", None, None)),
        price("128k", above=128_000, rates=("2", "2", None, None)),
        price("256k", above=256_000, rates=("3", "3", None, None)),
    )
    tokens = [(128_000, 0, 0, 0), (128_001, 0, 0, 0), (256_000, 0, 0, 0), (300_000, 0, 0, 0)]
    out = priced(prices, *(request(tokens=t) for t in tokens))
    assert out["price_version"].tolist() == ["base", "128k", "128k", "256k"]


def test_xai_bills_from_the_threshold_on_as_litellm_does():
    prices = book(
        price("base", provider="xai", model="grok-4", rates=("3", "15", None, None)),
        price("200k", provider="xai", model="grok-4", above=200_000, rates=("6", "30", None, None)),
    )
    tokens = [(199_999, 0, 0, 0), (200_000, 0, 0, 0)]
    out = priced(prices, *(request("grok-4", "xai", tokens=t) for t in tokens))
    assert out["price_version"].tolist() == ["base", "200k"]


def test_a_missing_cache_rate_is_the_input_rate_and_zero_stays_zero():
    prices = book(
        price("none", model="a", rates=("2", "8", None, None)),
        price("zero", model="b", rates=("2", "8", "0", "0")),
    )
    tokens = (1_000_000, 1_000_000, 1_000_000, 1_000_000)
    out = priced(prices, request("a", tokens=tokens), request("b", tokens=tokens))
    assert costs(out) == [Decimal("14"), Decimal("10")]


def test_cost_is_exact_and_rounded_half_even_to_12_decimals():
    prices = book(
        price("tiny", model="tiny", rates=("0.0000005", "0.0000015", None, None)),
        price("big", model="big", rates=("1000000", "1000000", None, None)),
    )
    out = priced(
        prices,
        request("tiny", tokens=(1, 0, 0, 0)),  # 0.5e-12: to even, 0
        request("tiny", tokens=(3, 0, 0, 0)),  # 1.5e-12: to even, 2e-12
        request("tiny", tokens=(0, 0, 0, 1)),  # 1.5e-12
        request("tiny", tokens=(5, 0, 0, 0)),  # 2.5e-12: to even, 2e-12
        request("big", tokens=(10**12, 10**12, 10**12, 10**12)),
    )
    assert out["computed_cost_usd"].tolist() == [
        "0.000000000000",
        "0.000000000002",
        "0.000000000002",
        "0.000000000002",
        "4000000000000.000000000000",
    ]


def test_unknown_models_are_kept_with_no_price_and_reported_by_traffic():
    prices = book(price())
    requests = [
        request("mystery-1", tokens=(10, 0, 0, 5)),
        request("gpt-4o"),
        request("mystery-2", tokens=(1, 1, 1, 1)),
        request("mystery-2", tokens=(1, 0, 0, 0)),
    ]
    usage = pd.DataFrame(requests)
    usage["occurred_at"] = pd.to_datetime(usage["occurred_at"], utc=True)
    out = price_usage(usage, prices)
    assert out["price_status"].tolist() == ["no_price", "priced", "no_price", "no_price"]
    assert out["computed_cost_usd"].isna().tolist() == [True, False, True, True]


def test_non_usd_prices_leave_the_cost_to_fx():
    out = priced(book(price("eur", currency="EUR")), request())
    assert out.iloc[0].to_dict() == {
        "computed_cost_usd": out.iloc[0]["computed_cost_usd"],
        "price_version": "eur",
        "price_status": "non_usd_price",
    }
    assert pd.isna(out.iloc[0]["computed_cost_usd"])


def test_impossible_token_counts_are_not_priced():
    out = priced(book(price()), request(tokens=(-1, 0, 0, 0)), request(tokens=(2**53, 0, 0, 0)))
    assert out["price_status"].tolist() == ["bad_tokens", "bad_tokens"]
    assert out["computed_cost_usd"].isna().all()


def test_output_is_aligned_to_the_usage_index_as_text():
    out = priced(book(price()), request(), request("nope"), index=[10, 3])
    assert out.index.tolist() == [10, 3]
    assert {str(t) for t in out.dtypes} == {"str"}
    assert out.loc[10, "computed_cost_usd"] == "0.002500000000"
    empty = priced(book(price()), request()).iloc[:0]
    assert list(empty.columns) == ["computed_cost_usd", "price_version", "price_status"]


def test_prices_as_text_floats_and_naive_times_from_sqlite():
    frame = pd.DataFrame([price("new", valid_from=T1), price("old", valid_to=T1)])
    frame["input_per_mtok"] = ["2", "2.5"]  # decimal text
    frame["output_per_mtok"] = [8.0, 10.0]
    frame["valid_from"] = [dt.datetime(2026, 3, 1), dt.datetime(1970, 1, 1)]  # naive UTC
    frame["valid_to"] = [None, dt.datetime(2026, 3, 1)]
    out = priced(PriceBook.from_frame(frame), request(at=T1 - US), request(at=T1))
    assert out["price_version"].tolist() == ["old", "new"]
    assert costs(out) == [Decimal("0.0025"), Decimal("0.002")]
    with pytest.raises(ValueError, match="input and an output rate"):
        book(price(rates=(None, "1", None, None)))


def test_an_empty_book_prices_nothing():
    out = priced(PriceBook.from_frame(pd.DataFrame([price()]).iloc[:0]), request())
    assert out["price_status"].tolist() == ["no_price"]


# --- matching rules, against the bundled LiteLLM map ----------------------------------------


@pytest.fixture(scope="module")
def litellm_book() -> PriceBook:
    rows = parse_price_map(
        json.loads((DATA_DIR / "prices" / "litellm_model_prices.json").read_text())
    )
    frame = pd.DataFrame([r.__dict__ for r in rows])
    frame["version"] = [f"v{i}" for i in range(len(frame))]
    frame["valid_from"], frame["valid_to"] = BEGINNING, None
    return PriceBook.from_frame(frame)


@pytest.mark.parametrize(
    ("provider", "model", "key"),
    [
        # 1-2: names are trimmed and lower-cased, then matched exactly
        (" OpenAI ", "GPT-4o ", ("openai", "gpt-4o")),
        ("anthropic", "claude-haiku-4-5", ("anthropic", "claude-haiku-4-5")),
        # 1: the provider's own prefix, even repeated; a missing provider is read from it
        ("openai", "openai/gpt-4o", ("openai", "gpt-4o")),
        ("openai", "openai/openai/gpt-4o", ("openai", "gpt-4o")),
        (None, "openai/gpt-4o", ("openai", "gpt-4o")),
        ("perplexity", "perplexity/sonar", ("perplexity", "sonar")),  # as LiteLLM reads it
        # 3: LiteLLM's <provider>/<model> keys of a provider family
        (
            "vertex_ai",
            "claude-sonnet-4-5",
            ("vertex_ai-anthropic_models", "vertex_ai/claude-sonnet-4-5"),
        ),
        (
            "vertex_ai",
            "deepseek-ai/deepseek-v3.1-maas",
            ("vertex_ai-deepseek_models", "vertex_ai/deepseek-ai/deepseek-v3.1-maas"),
        ),
        # 4: aliases
        ("vertex_ai", "gemini-2.5-flash", ("vertex_ai-language-models", "gemini-2.5-flash")),
        ("google", "gemini-2.5-flash", ("gemini", "gemini-2.5-flash")),
        ("google", "gemini/gemini-2.5-flash", ("gemini", "gemini-2.5-flash")),
        ("azure_openai", "gpt-4o", ("azure", "gpt-4o")),
        ("bedrock", "amazon.nova-2-lite-v1:0", ("bedrock_converse", "amazon.nova-2-lite-v1:0")),
        ("aws", "amazon.nova-2-lite-v1:0", ("bedrock_converse", "amazon.nova-2-lite-v1:0")),
        ("cohere", "command-r-plus-08-2024", ("cohere_chat", "command-r-plus-08-2024")),
        # 5: a dated name keeps its own price, and falls back to its base only without one
        ("openai", "gpt-4o-2024-08-06", ("openai", "gpt-4o-2024-08-06")),
        ("openai", "gpt-4o-2099-12-31", ("openai", "gpt-4o")),
        ("anthropic", "claude-sonnet-4-5-20990101", ("anthropic", "claude-sonnet-4-5")),
        (
            "vertex_ai",
            "claude-sonnet-4-5@20250929",
            ("vertex_ai-anthropic_models", "vertex_ai/claude-sonnet-4-5@20250929"),
        ),
        (
            "vertex_ai",
            "claude-sonnet-4-5@20990101",
            ("vertex_ai-anthropic_models", "vertex_ai/claude-sonnet-4-5"),
        ),
        # nothing fuzzy
        ("cohere", "command-r-plus", None),  # only the dated command-r-plus-08-2024 is priced
        ("openai", "gpt4o", None),
        ("openai", "gpt-4o-2099", None),
        ("anthropic", "gpt-4o", None),  # another provider's model
        ("openai", "claude-sonnet-4-5", None),
    ],
)
def test_matching_rules(litellm_book, provider, model, key):
    assert litellm_book.key_for(provider, model) == key


def test_aliases_are_tried_in_order_after_the_provider_itself():
    prices = book(
        price("gemini", provider="gemini", model="m"),
        price("vertex", provider="vertex_ai-language-models", model="m"),
        price("vertex-only", provider="vertex_ai-language-models", model="v"),
    )
    assert prices.key_for("google", "m") == ("gemini", "m")
    assert prices.key_for("vertex_ai", "m") == ("vertex_ai-language-models", "m")
    assert prices.key_for("gemini", "v") == ("vertex_ai-language-models", "v")
    assert prices.key_for("openai", "m") is None


# --- properties ---------------------------------------------------------------------------

THRESHOLD = 200_000
rate = st.decimals(min_value=0, max_value=1000, places=12, allow_nan=False, allow_infinity=False)
micro_rate = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False)
few = st.integers(0, 60_000)


def _by_bucket(rates) -> tuple:
    """Rates given in TOKENS order (input, cache read, cache write, output) as price()'s."""
    in_rate, read, write, out_rate = (str(r) for r in rates)
    return in_rate, out_rate, read, write


def _two_row_book(base, above) -> PriceBook:
    return book(
        price("base", rates=_by_bucket(base)),
        price("above", above=THRESHOLD, rates=_by_bucket(above)),
    )


def _cost(prices: PriceBook, *token_sets) -> list[Decimal]:
    return costs(priced(prices, *(request(tokens=t) for t in token_sets)))


def _band(tokens) -> bool:
    return sum(tokens[:3]) > THRESHOLD


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.tuples(*[st.integers(0, 2**53 - 1)] * 4),
    rates=st.tuples(*[st.decimals(0, 9_000_000, places=12, allow_nan=False)] * 4),
)
def test_cost_is_the_exact_decimal_rounded_half_even(tokens, rates):
    prices = book(price(rates=_by_bucket(rates)))
    with localcontext(prec=60):  # the default 28 digits would round the reference itself
        exact = sum(Decimal(t) * r for t, r in zip(tokens, rates, strict=True)) / 10**6
        expected = exact.quantize(Decimal("1e-12"), rounding=ROUND_HALF_EVEN)
    assert _cost(prices, tokens) == [expected]


@settings(max_examples=150, deadline=None)
@given(
    base=st.tuples(micro_rate, micro_rate, micro_rate, micro_rate),
    above=st.tuples(micro_rate, micro_rate, micro_rate, micro_rate),
    a=st.tuples(few, few, few, few),
    b=st.tuples(few, few, few, few),
    long_context=st.booleans(),
)
def test_cost_is_additive_within_one_threshold_row(base, above, a, b, long_context):
    """cost(a) + cost(b) == cost(a + b) exactly when a, b and a + b fall on the same row (all
    at or below the threshold, or all above it) and every rate is a whole number of
    micro-dollars per Mtok, so no request's cost needs rounding."""
    if long_context:  # all three above the threshold
        a, b = (THRESHOLD + a[0], *a[1:]), (THRESHOLD + b[0], *b[1:])
    both = tuple(x + y for x, y in zip(a, b, strict=True))
    assume(_band(a) == _band(b) == _band(both) == long_context)
    cost_a, cost_b, cost_both = _cost(_two_row_book(base, above), a, b, both)
    assert cost_a + cost_b == cost_both


@settings(max_examples=100, deadline=None)
@given(
    base=st.tuples(rate, rate, rate, rate),
    a=st.tuples(few, few, few, few),
    b=st.tuples(few, few, few, few),
)
def test_with_any_rates_additivity_is_off_by_rounding_only(base, a, b):
    """With rates of up to 12 decimals each cost is rounded once: the sum of two is within
    one 1e-12 quantum of the cost of both together."""
    both = tuple(x + y for x, y in zip(a, b, strict=True))
    cost_a, cost_b, cost_both = _cost(book(price(rates=_by_bucket(base))), a, b, both)
    assert abs(cost_a + cost_b - cost_both) <= Decimal("1e-12")


@settings(max_examples=150, deadline=None)
@given(
    base=st.tuples(rate, rate, rate, rate),
    extra=st.tuples(rate, rate, rate, rate),
    tokens=st.tuples(*[st.integers(0, 300_000)] * 4),
    bucket=st.integers(0, 3),
    more=st.integers(1, 150_000),
)
def test_cost_never_falls_when_a_bucket_grows(base, extra, tokens, bucket, more):
    """Monotone non-decreasing in every bucket, across the threshold too, when every
    long-context rate is at least the base rate (above = base + extra)."""
    above = tuple(b + e for b, e in zip(base, extra, strict=True))
    grown = tuple(t + more * (i == bucket) for i, t in enumerate(tokens))
    before, after = _cost(_two_row_book(base, above), tokens, grown)
    assert after >= before


def test_litellm_long_context_rows_cheaper_than_their_base_exist(litellm_book):
    """Monotony across a threshold is not a law of LiteLLM's map: a priority or flex tier
    whose above-threshold rate falls back to the STANDARD above-threshold key (as LiteLLM's
    _get_cost_per_unit does) can be cheaper than the tier's base rate."""
    out = priced(
        litellm_book,
        request("us/gpt-5.4", "azure", "priority", tokens=(271_000, 0, 0, 100_000)),
        request("us/gpt-5.4", "azure", "priority", tokens=(273_000, 0, 0, 100_000)),
    )
    first, second = costs(out)
    assert second < first
