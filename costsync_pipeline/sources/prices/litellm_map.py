"""LiteLLM's model price map (``model_prices_and_context_window.json``) as price rows.

Each entry gives per-token USD rates. A row is made per service tier and long-context
threshold, following LiteLLM's own cost code (``litellm_core_utils/llm_cost_calc/utils.py``
``_get_token_base_cost``, ``cost_calculator.py`` ``batch_cost_calculator``):

* ``standard`` from the plain keys; ``priority`` / ``flex`` from the keys suffixed
  ``_priority`` / ``_flex``, a rate missing for the tier falling back to the standard rate
  (``_get_cost_per_unit``);
* long context: an ``input_cost_per_token_above_<N>k_tokens`` key (or its tier-suffixed form)
  gives a row with ``min_prompt_tokens = N*1000`` whose rates apply to every token type of a
  request whose prompt exceeds it; a rate without an above-threshold key keeps the tier's rate;
* ``batch`` as LiteLLM prices batch jobs, for every entry: the ``_batches`` rates, with their
  own ``*_above_<N>k_tokens_batches`` thresholds only; cache reads and writes without a batch
  rate cost the batch input rate; without a batch input (output) rate the standard input
  (output) rate is halved, and so are the cache rates (a missing cache read rate is left empty,
  so it falls back to the halved input rate, where LiteLLM bills those tokens at zero);
* ``tiered_pricing`` tables (all-or-nothing tiers chosen by prompt size, ``range_start <
  prompt <= range_end``) give a row per tier with ``min_prompt_tokens = range_start``; they
  override the flat rates of every tier but batch, as in LiteLLM;
* ``fireworks_ai`` entries without a cache read rate read cached tokens at half the input
  rate (LiteLLM's ``FIREWORKS_AI_DEFAULT_CACHE_READ_RATE_RATIO``), except in batch;
* ``cache_creation_input_token_cost_above_1hr`` is the one-hour cache write rate.

Entries without both an input and an output token rate (images, audio by the second,
``sample_spec``) are not token-priced and are skipped. The model is the key without a leading
``<litellm_provider>/``; when a key exists both ways, the prefixed one wins, as LiteLLM looks
``<provider>/<model>`` up first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

MTOK = Decimal(1_000_000)
HALF = Decimal("0.5")
TIERS = {"standard": "", "priority": "_priority", "flex": "_flex"}
# Every suffix LiteLLM treats as a non-standard tier when it collects threshold keys.
_OTHER_TIER_SUFFIXES = (
    "_flex",
    "_balanced",
    "_priority",
    "_fast",
    "_ultrafast",
    "_auto",
    "_batches",
)
RATES = {
    "input_per_mtok": "input_cost_per_token",
    "output_per_mtok": "output_cost_per_token",
    "cache_read_per_mtok": "cache_read_input_token_cost",
    "cache_write_per_mtok": "cache_creation_input_token_cost",
    "cache_write_1h_per_mtok": "cache_creation_input_token_cost_above_1hr",
}
_ABOVE = re.compile(r"_above_(\d+)k_tokens(?=$|_)")
_INPUT_ABOVE = "input_cost_per_token_above_"
FIREWORKS_CACHE_READ_RATIO = Decimal("0.5")


class PriceMapError(ValueError):
    """The document is not a LiteLLM price map."""


@dataclass(frozen=True)
class PriceRow:
    provider: str
    model: str
    service_tier: str
    min_prompt_tokens: int
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None
    cache_write_1h_per_mtok: Decimal | None
    currency: str = "USD"


def per_mtok(value) -> Decimal | None:
    """A per-token rate as an exact per-million rate (the float's shortest text, scaled)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        rate = Decimal(str(value)) * MTOK
    except ArithmeticError:
        return None
    if not rate.is_finite() or rate < 0:
        return None
    return Decimal(format(rate.normalize(), "f"))  # 10, not 1E+1


def _scaled(rate: Decimal | None, factor: Decimal) -> Decimal | None:
    return None if rate is None else Decimal(format((rate * factor).normalize(), "f"))


def _thresholds(entry: dict, tier_suffix: str) -> list[int]:
    """LiteLLM's thresholds for a tier: the standard input ones plus the tier's own."""
    found = set()
    for key in entry:
        if not key.startswith(_INPUT_ABOVE) or not (m := _ABOVE.search(key)):
            continue
        if not key.endswith(_OTHER_TIER_SUFFIXES) or (tier_suffix and key.endswith(tier_suffix)):
            found.add(int(m.group(1)) * 1000)
    return sorted(found)


def _rate(entry: dict, base: str, tier_suffix: str, above: int | None) -> Decimal | None:
    """The rate LiteLLM would use for ``base`` in this tier, above a threshold or not."""
    candidates = []
    if above is not None:
        k = f"_above_{above // 1000}k_tokens"
        candidates += [f"{base}{k}{tier_suffix}", f"{base}{k}"] if tier_suffix else [f"{base}{k}"]
    candidates += [f"{base}{tier_suffix}", base] if tier_suffix else [base]
    for key in candidates:
        if key in entry:
            return per_mtok(entry[key])
    return None


def _batch_rows(provider: str, model: str, entry: dict) -> list[PriceRow]:
    """LiteLLM's ``batch_cost_calculator`` (with ``get_batch_cost_rates``) as rows."""
    flat = {name: per_mtok(entry.get(base)) for name, base in RATES.items()}
    bases = {name: base for name, base in RATES.items() if name != "cache_write_1h_per_mtok"}
    # Each rate has its own batch thresholds: only its ``*_above_<N>k_tokens_batches`` keys.
    own = {
        name: sorted(
            int(m.group(1)) * 1000
            for key in entry
            if (m := re.fullmatch(rf"{base}_above_(\d+)k_tokens_batches", key))
        )
        for name, base in bases.items()
    }
    out = []
    for above in sorted({0, *(t for ts in own.values() for t in ts)}):
        batch = {}
        for name, base in bases.items():
            crossed = [t for t in own[name] if t <= above]
            key = f"{base}_above_{crossed[-1] // 1000}k_tokens" if crossed else base
            batch[name] = per_mtok(entry.get(f"{key}_batches"))
        rate_in, read, write = (
            batch[n] for n in ("input_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")
        )
        if rate_in is not None:  # cached tokens without a batch rate are billed as input
            read = rate_in if read is None else read
            write = rate_in if write is None else write
        else:  # LiteLLM halves the standard rates; `cost or input` makes a 0 write rate unset
            rate_in = flat["input_per_mtok"] * HALF
            read = _scaled(flat["cache_read_per_mtok"], HALF)
            write = (flat["cache_write_per_mtok"] or flat["input_per_mtok"]) * HALF
        rate_out = batch["output_per_mtok"]
        rate_out = flat["output_per_mtok"] * HALF if rate_out is None else rate_out
        rates = [_scaled(r, Decimal(1)) for r in (rate_in, rate_out, read, write, write)]
        out.append(PriceRow(provider, model, "batch", above, *rates))
    return out


def _tiered_rows(provider: str, model: str, entry: dict) -> list[PriceRow]:
    """A ``tiered_pricing`` table (LiteLLM ``_get_tiered_base_costs``) as standard rows."""
    tiers = entry.get("tiered_pricing")
    if not isinstance(tiers, list):
        return []
    out = []
    for tier in sorted(
        (t for t in tiers if isinstance(t, dict) and len(t.get("range") or []) == 2),
        key=lambda t: t["range"][0],
    ):
        rates = {name: per_mtok(tier.get(base)) for name, base in RATES.items()}
        if rates["output_per_mtok"] is None:  # the model's own output rate stands in
            rates["output_per_mtok"] = per_mtok(entry.get("output_cost_per_token")) or Decimal(0)
        if rates["input_per_mtok"] is None:
            return []
        start = int(tier["range"][0])
        out.append(PriceRow(provider, model, "standard", max(start, 0), **rates))
    return out if out and out[0].min_prompt_tokens == 0 else []


def _ident(key: str, entry: dict) -> tuple[str, str, bool]:
    """(provider, model, whether the key carries the ``<provider>/`` prefix)."""
    provider = str(entry.get("litellm_provider") or "").strip().lower()
    prefixed = bool(provider) and key.lower().startswith(f"{provider}/")
    model = key[len(provider) + 1 :] if prefixed else key
    return provider, model.strip().lower(), prefixed


def rows_for_entry(key: str, entry: dict) -> list[PriceRow]:
    provider, model, _ = _ident(key, entry)
    if not provider:
        return []
    flat_priced = "input_cost_per_token" in entry and "output_cost_per_token" in entry
    batch = _batch_rows(provider, model, entry) if flat_priced else []
    if tiered := _tiered_rows(provider, model, entry):
        return tiered + batch
    if not flat_priced:
        return []
    if provider == "fireworks_ai" and "cache_read_input_token_cost" not in entry:
        entry = {
            **entry,
            "cache_read_input_token_cost": str(
                Decimal(str(entry["input_cost_per_token"])) * FIREWORKS_CACHE_READ_RATIO
            ),
        }
    out = []
    for tier, suffix in TIERS.items():
        if suffix and not any(k.endswith(suffix) for k in entry):
            continue
        for above in (None, *_thresholds(entry, suffix)):
            rates = {name: _rate(entry, base, suffix, above) for name, base in RATES.items()}
            if rates["input_per_mtok"] is None or rates["output_per_mtok"] is None:
                continue
            out.append(PriceRow(provider, model, tier, above or 0, **rates))
    return out + batch


def parse_price_map(document) -> list[PriceRow]:
    """Every token-priced row of a LiteLLM price map; raises PriceMapError when the document
    is not one (not an object of model entries)."""
    if not isinstance(document, dict) or not document:
        raise PriceMapError("a LiteLLM price map is a JSON object of model entries")
    chosen: dict[tuple, tuple[bool, list[PriceRow]]] = {}
    for key, entry in document.items():
        if not isinstance(entry, dict) or key == "sample_spec":  # the map's documentation
            continue
        provider, model, prefixed = _ident(key, entry)
        if (rows := rows_for_entry(key, entry)) and (
            (provider, model) not in chosen or (prefixed and not chosen[provider, model][0])
        ):
            chosen[provider, model] = (prefixed, rows)
    if not chosen:
        raise PriceMapError("the price map holds no token-priced model")
    return [row for _, rows in chosen.values() for row in rows]
