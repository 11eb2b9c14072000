"""Benchmark: pricing usage rows against the full LiteLLM price map (no database).

Builds a price book from the bundled LiteLLM snapshot with three versions of every price
(valid from the beginning, from 2026-03-01 and from 2026-06-01, each 10% cheaper), then a usage
frame of N rows drawn from the snapshot's models: providers spelled as they arrive (aliases,
``vertex_ai`` for its families, ``P/M`` models), dated names falling back to their base, 5%
unknown models, every service tier, occurred_at across the price changes, and a share of
prompts above the long-context thresholds. Times ``price_usage`` (the figure the issue
bounds), with the book build alongside. (The report of unpriced models is the warehouse view
``unpriced_models``.)

Usage: python bench/bench_pricing.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costsync_pipeline.paths import DATA_DIR  # noqa: E402
from costsync_pipeline.sources.prices.litellm_map import parse_price_map  # noqa: E402
from costsync_pipeline.transforms.pricing import (  # noqa: E402
    PriceBook,
    price_usage,
)

CHANGES = [pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC")]
CHANGES.append(pd.Timestamp("2026-06-01", tz="UTC"))
RATES = (
    "input_per_mtok",
    "output_per_mtok",
    "cache_read_per_mtok",
    "cache_write_per_mtok",
    "cache_write_1h_per_mtok",
)
# How usage spells a price provider (the first spelling is the price's own).
SPELLINGS = {
    "gemini": ["gemini", "google"],
    "vertex_ai-language-models": ["vertex_ai"],
    "vertex_ai-anthropic_models": ["vertex_ai"],
    "bedrock_converse": ["bedrock"],
    "cohere_chat": ["cohere"],
    "azure": ["azure", "azure_openai"],
}


def price_frame() -> pd.DataFrame:
    rows = parse_price_map(
        json.loads((DATA_DIR / "prices" / "litellm_model_prices.json").read_text())
    )
    frames = []
    for n, start in enumerate(CHANGES):
        factor = Decimal("0.9") ** n
        f = pd.DataFrame([r.__dict__ for r in rows])
        for c in RATES:
            f[c] = [None if v is None else v * factor for v in f[c]]
        f["valid_from"] = start
        f["valid_to"] = CHANGES[n + 1] if n + 1 < len(CHANGES) else pd.NaT
        f["source"] = "feed:litellm"
        frames.append(f)
    prices = pd.concat(frames, ignore_index=True)
    prices["version"] = [f"{i:032x}" for i in range(len(prices))]
    return prices


def usage_frame(prices: pd.DataFrame, n: int, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = prices.loc[prices["valid_to"].isna()].drop_duplicates(["provider", "model"])
    longs = prices.loc[prices["min_prompt_tokens"] > 0, ["provider", "model"]].drop_duplicates()
    pick = rng.integers(0, len(keys), n)
    provider = keys["provider"].to_numpy()[pick].astype(object)
    model = keys["model"].to_numpy()[pick].astype(object)
    # A fifth of the traffic goes to long-context models, as coding agents do.
    lc = rng.random(n) < 0.2
    lpick = rng.integers(0, len(longs), int(lc.sum()))
    provider[lc] = longs["provider"].to_numpy()[lpick]
    model[lc] = longs["model"].to_numpy()[lpick]
    for price_provider, spellings in SPELLINGS.items():
        at = provider == price_provider
        provider[at] = rng.choice(spellings, int(at.sum()))
    roll = rng.random(n)
    model = np.where(roll < 0.05, "unknown-model-" + (pick % 500).astype(str), model)
    dated = (roll >= 0.05) & (roll < 0.10)
    model[dated] = model[dated] + "-2025-01-01"
    prefixed = (roll >= 0.10) & (roll < 0.15)
    model[prefixed] = provider[prefixed] + "/" + model[prefixed]
    tier = rng.choice(["standard", "batch", "priority", "flex"], n, p=[0.7, 0.15, 0.1, 0.05])
    seconds = rng.integers(0, 365 * 86400, n)
    occurred = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(seconds, unit="s")
    prompt = rng.integers(100, 60_000, n)
    above = rng.random(n) < 0.15
    prompt[above] = rng.integers(120_000, 1_200_000, int(above.sum()))
    read = (prompt * rng.random(n) * 0.5).astype(np.int64)
    write = np.where(rng.random(n) < 0.2, (prompt * 0.1).astype(np.int64), 0)
    tokens = lambda a: pd.array(a, dtype="Int64")  # noqa: E731
    return pd.DataFrame(
        {
            "provider": pd.array(provider, dtype="str"),
            "model": pd.array(model, dtype="str"),
            "service_tier": pd.array(tier, dtype="str"),
            "occurred_at": occurred,
            "input_tokens": tokens(prompt - read - write),
            "cache_read_tokens": tokens(read),
            "cache_write_tokens": tokens(write),
            "output_tokens": tokens(rng.integers(1, 4_000, n)),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    prices = price_frame()
    start = time.perf_counter()
    book = PriceBook.from_frame(prices)
    book_s = time.perf_counter() - start
    usage = usage_frame(prices, args.rows)
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        priced = price_usage(usage, book)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(f"price rows:       {len(prices):,} ({len(prices) // len(CHANGES):,} per version)")
    print(f"book build:       {book_s:.3f} s")
    print(f"rows:             {args.rows:,}")
    runs = ", ".join(f"{t:.3f}" for t in timings)
    print(f"price_usage:      {best:.3f} s best of {args.repeat} ({runs})")
    print(f"rows/s:           {args.rows / best:,.0f}")
    print(
        "statuses:         "
        + ", ".join(f"{k} {v:,}" for k, v in priced["price_status"].value_counts().items())
    )


if __name__ == "__main__":
    main()
