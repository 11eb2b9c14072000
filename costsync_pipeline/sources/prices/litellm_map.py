"""LiteLLM's model price map (``model_prices_and_context_window.json``) as price rows.

Each entry gives per-token USD rates. A row is made per service tier and long-context
threshold:

* tiers: ``standard`` from the plain keys, ``batch`` / ``priority`` / ``flex`` from the keys
  suffixed ``_batches`` / ``_priority`` / ``_flex``; a rate missing for a tier falls back to
  the standard rate, as LiteLLM does (``get_service_tier_cost_key``);
* long context: ``*_above_<N>k_tokens`` keys give a row with ``min_prompt_tokens = N*1000``
  whose rates apply to every token type of a request whose prompt exceeds it (a rate without
  an above-threshold key keeps the tier's rate);
* ``cache_creation_input_token_cost_above_1hr`` is the one-hour cache write rate.

Entries without both an input and an output token rate (images, audio by the second,
``sample_spec``) are not token-priced and are skipped. The model is the key without a leading
``<litellm_provider>/``; when a key exists both ways, the bare one wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

MTOK = Decimal(1_000_000)
TIERS = {"standard": "", "batch": "_batches", "priority": "_priority", "flex": "_flex"}
RATES = {
    "input_per_mtok": "input_cost_per_token",
    "output_per_mtok": "output_cost_per_token",
    "cache_read_per_mtok": "cache_read_input_token_cost",
    "cache_write_per_mtok": "cache_creation_input_token_cost",
    "cache_write_1h_per_mtok": "cache_creation_input_token_cost_above_1hr",
}
_ABOVE = re.compile(r"_above_(\d+)k_tokens(?=$|_)")


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


def _thresholds(entry: dict) -> list[int]:
    found = {int(m.group(1)) * 1000 for key in entry if (m := _ABOVE.search(key))}
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


def rows_for_entry(key: str, entry: dict) -> list[PriceRow]:
    provider = str(entry.get("litellm_provider") or "").strip().lower()
    if not provider or "input_cost_per_token" not in entry or "output_cost_per_token" not in entry:
        return []
    model = key[len(provider) + 1 :] if key.lower().startswith(f"{provider}/") else key
    model = model.strip().lower()
    out = []
    for tier, suffix in TIERS.items():
        if suffix and not any(k.endswith(suffix) for k in entry):
            continue
        for above in (None, *_thresholds(entry)):
            rates = {name: _rate(entry, base, suffix, above) for name, base in RATES.items()}
            if rates["input_per_mtok"] is None or rates["output_per_mtok"] is None:
                continue
            out.append(PriceRow(provider, model, tier, above or 0, **rates))
    return out


def parse_price_map(document) -> list[PriceRow]:
    """Every token-priced row of a LiteLLM price map; raises PriceMapError when the document
    is not one (not an object of model entries)."""
    if not isinstance(document, dict) or not document:
        raise PriceMapError("a LiteLLM price map is a JSON object of model entries")
    rows: dict[tuple, tuple[bool, PriceRow]] = {}
    for key, entry in document.items():
        if not isinstance(entry, dict) or key == "sample_spec":  # the map's documentation
            continue
        bare = "/" not in key or not key.lower().startswith(
            f"{str(entry.get('litellm_provider') or '').lower()}/"
        )
        for row in rows_for_entry(key, entry):
            ident = (row.provider, row.model, row.service_tier, row.min_prompt_tokens)
            if ident not in rows or (bare and not rows[ident][0]):
                rows[ident] = (bare, row)
    if not rows:
        raise PriceMapError("the price map holds no token-priced model")
    return [row for _, row in rows.values()]
