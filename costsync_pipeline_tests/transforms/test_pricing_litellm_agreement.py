"""For prices taken from LiteLLM's map, our cost equals LiteLLM's own cost calculation.

Every token-priced model of the bundled snapshot (all of them, every provider) is priced both
ways for: a plain request, a cached one, a cache-write one, a mixed one, and for every
long-context threshold of the model one request exactly at it, one a token above and one far
above; in every service tier the model has rows for (batch for all: LiteLLM prices every batch
job). Usage is spelled as it arrives (``vertex_ai`` for the ``vertex_ai-*`` families) and
LiteLLM is called as its callers do: ``cost_per_token(model="<provider>/<model>",
custom_llm_provider=..., usage_object=Usage(...), service_tier=...)``, with
``call_type="retrieve_batch"`` for batch. LiteLLM's ``Usage`` counts cached and cache-write
tokens INSIDE ``prompt_tokens`` (our ``input_tokens`` is the uncached rest), and the requests
carry no reasoning breakdown (a price row has no reasoning rate).

Requests left out, each for the reason in ``SKIPS``; everything else must agree to 1e-9
relative (LiteLLM computes in floats), or to half our 12-decimal quantum.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal

import pandas as pd
import pytest

from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.sources.prices.litellm_map import parse_price_map
from costsync_pipeline.transforms import pricing
from costsync_pipeline.transforms.pricing import PriceBook, price_usage

SNAPSHOT = DATA_DIR / "prices" / "litellm_model_prices.json"
TOKENS = ["input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens"]
SKIPS = {
    "off_peak": "off_peak_pricing: time-of-day rates LiteLLM takes from the wall clock "
    "(litellm_core_utils/llm_cost_calc/utils.py apply_off_peak_pricing); a price row has none",
    "perplexity": "LiteLLM's perplexity calculator (llms/perplexity/cost_calculator.py:70) is "
    "the fallback for responses without Perplexity's own cost: it bills every prompt token at "
    "the input rate, ignoring the map's cache rates, thresholds and tiers",
    "fireworks_tier": "LiteLLM calls fireworks_ai_cost_per_token without the service tier "
    "(cost_calculator.py:711), so it bills the map's _priority/_flex rates as standard",
    "batch_free_cache": "batch without a batch input rate nor a cache read rate: LiteLLM bills "
    "cached tokens at 0 (cost_calculator.py:2666, calculate_cost_component of a missing rate); "
    "we bill the halved input rate, the rule LiteLLM's own standard path follows (utils.py:768)",
    "batch_threshold_dropped": "LiteLLM's ModelInfo declares batch thresholds for 200k and 272k "
    "only (types/utils.py:339), so get_model_info drops e.g. *_above_100k_tokens_batches and "
    "LiteLLM bills the flat batch rate above them; we keep the map's price",
    "batch_unresolved": "LiteLLM's batch calculator re-resolves the provider with "
    "get_llm_provider (cost_calculator.py:2608; ai21 -> ai21_chat, ...), finds no model info "
    "and bills 0",
    "copilot_batch": "pricing a github_copilot batch makes LiteLLM attempt a device-code login "
    "over the network (BadRequestError offline)",
}
_BATCH_THRESHOLD = re.compile(r"_above_(\d+)k_tokens_batches$")


def _requests(thresholds: list[int]) -> list[tuple[str, tuple[int, int, int, int]]]:
    out = [
        ("plain", (1000, 0, 0, 500)),
        ("cached", (1000, 3000, 0, 500)),
        ("cache_write", (1000, 0, 2000, 500)),
        ("mixed", (700, 200, 100, 50)),
    ]
    for t in thresholds:
        out += [
            ("at_threshold", (t - 300, 200, 100, 50)),
            ("above_threshold", (t - 299, 200, 100, 50)),
            ("far_above", (t + 5000, 3000, 1000, 70)),
        ]
    return out


@pytest.fixture(scope="module")
def litellm():
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network; our snapshot below
    litellm = pytest.importorskip("litellm")
    saved = litellm.model_cost
    litellm.model_cost = json.loads(SNAPSHOT.read_text())
    litellm.suppress_debug_info = True
    yield litellm
    litellm.model_cost = saved


@pytest.fixture(scope="module")
def document():
    return json.loads(SNAPSHOT.read_text())


@pytest.fixture(scope="module")
def prices(document):
    rows = pd.DataFrame([r.__dict__ for r in parse_price_map(document)])
    rows["version"] = [f"v{i}" for i in range(len(rows))]
    rows["valid_from"] = pd.Timestamp("1970-01-01", tz="UTC")
    rows["valid_to"] = None
    return rows


def _entries(document: dict) -> dict[tuple[str, str], tuple[str, dict]]:
    """(provider, model) of a price key -> the model as the map spells it and its entry (the
    prefixed key wins, as in parse_price_map)."""
    out = {}
    for key, entry in document.items():
        provider = str(entry.get("litellm_provider") or "").lower()
        prefixed = key.lower().startswith(f"{provider}/")
        spelled = key[len(provider) + 1 :] if prefixed else key
        if prefixed or (provider, spelled.lower()) not in out:
            out[provider, spelled.lower()] = (spelled, entry)
    return out


def _skip(litellm, entry: dict, provider: str, model: str, tier: str, tokens) -> str | None:
    read, prompt = tokens[1], tokens[0] + tokens[1] + tokens[2]
    if "off_peak_pricing" in entry:
        return "off_peak"
    if provider == "perplexity" and tier != "batch":
        has_threshold = any("_above_" in k and k.endswith("k_tokens") for k in entry)
        if tokens[1] or tokens[2] or has_threshold:
            return "perplexity"
    if provider == "fireworks_ai" and tier in ("priority", "flex"):
        return "fireworks_tier"
    if tier != "batch":
        return None
    if provider == "github_copilot":
        return "copilot_batch"
    if read and not {"input_cost_per_token_batches", "cache_read_input_token_cost"} & set(entry):
        return "batch_free_cache"
    dropped = (m.group(1) for key in entry if (m := _BATCH_THRESHOLD.search(key)))
    if any(prompt > int(n) * 1000 for n in dropped if n not in ("200", "272")):
        return "batch_threshold_dropped"
    try:
        _, resolved, _, _ = litellm.get_llm_provider(model=model, custom_llm_provider=provider)
        litellm.get_model_info(model=model, custom_llm_provider=resolved)
    except Exception:  # noqa: BLE001 - any failure is LiteLLM's lookup failing
        return "batch_unresolved"
    return None


@pytest.fixture(scope="module")
def compared(litellm, document, prices):
    """One row per request priced both ways; ``skip`` names the reason when left out."""
    from litellm.types.utils import Usage

    entries, book = _entries(document), PriceBook.from_frame(prices)
    by_key = {key: rows for key, rows in prices.groupby(["provider", "model"])}
    cases, seen = [], set()
    for provider, model in by_key:
        spelled, _ = entries[provider, model]
        family = provider.startswith("vertex_ai-")
        usage_provider = "vertex_ai" if family else provider
        usage_model = model.removeprefix("vertex_ai/") if family else model
        # Both sides price what the usage spelling resolves to (``perplexity/perplexity/sonar``
        # is ``perplexity/sonar`` to LiteLLM too): take that key's entry, tiers and thresholds.
        key = book.key_for(usage_provider, usage_model)
        if key in seen:
            continue
        seen.add(key)
        rows, (_, entry) = by_key[key], entries[key]
        llm_model = f"{usage_provider}/{spelled.removeprefix('vertex_ai/')}"
        thresholds = sorted(set(rows["min_prompt_tokens"]) - {0})
        for tier in sorted(set(rows["service_tier"])):
            for kind, tokens in _requests(thresholds):
                skip = _skip(litellm, entry, usage_provider, llm_model, tier, tokens)
                cases.append((usage_provider, usage_model, llm_model, tier, kind, *tokens, skip))
    columns = ["provider", "model", "llm_model", "service_tier", "kind", *TOKENS, "skip"]
    usage = pd.DataFrame(cases, columns=columns)
    usage["occurred_at"] = pd.Timestamp("2026-06-01", tz="UTC")
    for c in TOKENS:
        usage[c] = usage[c].astype("Int64")
    theirs = []
    for r in usage.itertuples():
        if isinstance(r.skip, str):
            theirs.append(float("nan"))
            continue
        # Plain ints: Usage ignores cache counts that are not (numpy's are not).
        uncached, read, written, output = (int(getattr(r, c)) for c in TOKENS)
        usage_object = Usage(
            prompt_tokens=uncached + read + written,
            completion_tokens=output,
            total_tokens=uncached + read + written + output,
            cache_read_input_tokens=read,
            cache_creation_input_tokens=written,
        )
        tier = {"call_type": "retrieve_batch"} if r.service_tier == "batch" else {}
        if r.service_tier in ("priority", "flex"):
            tier = {"service_tier": r.service_tier}
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=r.llm_model,
            custom_llm_provider=r.provider,
            usage_object=usage_object,
            **tier,
        )
        theirs.append(prompt_cost + completion_cost)
    usage["theirs"] = theirs
    return usage


def _disagreements(compared: pd.DataFrame, book: PriceBook) -> pd.DataFrame:
    checked = compared[compared["skip"].isna()]
    assert checked["theirs"].notna().all()
    priced = price_usage(checked, book)
    ours = priced["computed_cost_usd"].astype("float64")
    tolerance = 1e-9 * checked["theirs"].abs() + 5e-13
    wrong = (ours - checked["theirs"]).abs() > tolerance
    wrong |= priced["price_status"] != "priced"
    return checked.assign(ours=ours, status=priced["price_status"])[wrong]


def test_every_litellm_model_costs_what_litellm_says(compared, prices):
    bad = _disagreements(compared, PriceBook.from_frame(prices))
    shown = bad[["provider", "model", "service_tier", "kind", *TOKENS, "ours", "theirs", "status"]]
    assert bad.empty, f"{len(bad)} requests disagree with LiteLLM:\n{shown.head(20)}"


def test_the_comparison_is_broad(compared):
    checked = compared[compared["skip"].isna()]
    assert checked[["provider", "model"]].drop_duplicates().shape[0] > 3000
    assert checked["provider"].nunique() > 80
    assert len(checked) > 25_000
    kinds = checked["kind"].value_counts()
    assert kinds["cached"] > 3000 and kinds["cache_write"] > 3000
    assert kinds["at_threshold"] > 300 and kinds["above_threshold"] > 300
    tiers = checked["service_tier"].value_counts()
    assert tiers["batch"] > 3000 and tiers["priority"] > 300 and tiers["flex"] > 200
    assert (checked[checked["kind"] == "at_threshold"]["provider"] == "xai").sum() > 10
    skipped = compared["skip"].value_counts()
    assert set(skipped.index) <= set(SKIPS)
    assert skipped.sum() < 0.15 * len(compared)


def test_a_threshold_met_rather_than_exceeded_is_caught(compared, prices, monkeypatch):
    monkeypatch.setattr(pricing, "INCLUSIVE_THRESHOLD_PROVIDERS", frozenset({"openai", "gemini"}))
    bad = _disagreements(compared, PriceBook.from_frame(prices))
    assert set(bad["kind"]) == {"at_threshold"} and {"openai", "gemini"} <= set(bad["provider"])


def test_xai_billed_from_the_threshold_on_is_caught(compared, prices, monkeypatch):
    monkeypatch.setattr(pricing, "INCLUSIVE_THRESHOLD_PROVIDERS", frozenset())
    bad = _disagreements(compared, PriceBook.from_frame(prices))
    assert set(bad["kind"]) == {"at_threshold"} and set(bad["provider"]) == {"xai"}


def test_long_context_rows_left_out_are_caught(compared, prices):
    base_only = prices[prices["min_prompt_tokens"] == 0]
    bad = _disagreements(compared, PriceBook.from_frame(base_only))
    # At a threshold too: xAI's (inclusive) and the next one up of models with several.
    assert set(bad["kind"]) == {"at_threshold", "above_threshold", "far_above"}
    assert len(bad) > 300


def test_standard_rates_for_every_tier_are_caught(compared, prices):
    standard = prices[prices["service_tier"] == "standard"]
    bad = _disagreements(compared, PriceBook.from_frame(standard))
    assert {"batch", "priority", "flex"} <= set(bad["service_tier"])


@pytest.mark.parametrize(
    ("key", "rates"),
    [
        # batch: cached tokens without a batch cache rate cost the batch input rate
        (("openai", "gpt-4o", "batch", 0), ("1.25", "5", "1.25", "1.25")),
        # batch thresholds of its own (*_above_100k_tokens_batches)
        (("anthropic", "claude-haiku-5-5", "batch", 100_000), ("0.25", "1.25", "0.025", "0.3125")),
        # no batch keys: the standard rates halved, a missing cache read rate left empty
        (("cohere_chat", "command-r-plus-08-2024", "batch", 0), ("1.25", "5", None, "1.25")),
        # tiered_pricing: one row per range, chosen by range_start < prompt
        (("dashscope", "qwen3-max", "standard", 32_000), ("2.4", "12", None, None)),
        # fireworks_ai reads cached tokens at half the input rate without a cache read rate
        (
            ("fireworks_ai", "accounts/fireworks/models/chronos-hermes-13b-v2", "standard", 0),
            ("0.2", "0.2", "0.1", None),
        ),
        # the <provider>/<model> key wins over the bare one (LiteLLM looks it up first)
        (("gemini", "gemini-exp-1206", "standard", 0), ("0", "0", None, None)),
        (("deepseek", "deepseek-chat", "standard", 0), ("0.28", "0.42", "0.028", "0")),
    ],
)
def test_litellm_map_rows_follow_litellm(prices, key, rates):
    row = prices.set_index(["provider", "model", "service_tier", "min_prompt_tokens"]).loc[key]
    columns = ["input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok"]
    expected = [None if r is None else Decimal(r) for r in rates]
    assert [None if pd.isna(v) else v for v in row[columns]] == expected
