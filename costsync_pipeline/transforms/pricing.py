"""The computed cost of every usage row, from the effective-dated ``model_prices`` rows.

A usage row (provider P, model M, service tier S, occurred_at T, token buckets) is priced so:

1. Names are trimmed and lower-cased. Leading ``P/`` prefixes on M (repeated, as routers
   write ``openai/openai/gpt-4o``) and those of P's aliases (rule 4) are dropped; with P
   missing, ``X/M'`` reads as provider X, model M'.
2. Exact: the price key (P, M).
3. LiteLLM's ``<provider>/<model>`` spelling: (P, ``P/M``), which is how LiteLLM keys a
   provider family's models (``vertex_ai/claude-sonnet-4-5`` under ``vertex_ai-anthropic_models``).
4. Provider aliases, in the order of ``PROVIDER_ALIASES`` followed transitively, each tried as
   in 2 and 3 (also with the alias as prefix); ``vertex_ai`` first covers every
   ``vertex_ai-<family>`` provider of the book, in name order.
5. Dated model names: only when rules 2-4 find nothing, M without its trailing date
   (``-2024-08-06``, ``-20241022``, ``@20240620``) goes through rules 2-4 again. Nothing else
   is fuzzy: an undated name never matches a dated price.
6. Service tier: S when the key has rows for S valid at T, else ``standard`` (LiteLLM bills a
   tier without rates of its own at the standard ones); a missing or unknown S is ``standard``.
7. Version: the one whose ``[valid_from, valid_to)`` holds T, never simply the latest;
   emptied versions (``valid_to <= valid_from``) never match.
8. Long context: the row with the highest ``min_prompt_tokens`` that the prompt (input +
   cache read + cache write tokens) exceeds, else the base row; its rates then apply to every
   token type. A prompt exactly at a threshold stays on the row below, except for providers
   LiteLLM bills from the threshold on (``INCLUSIVE_THRESHOLD_PROVIDERS``: xAI).
9. Cost = (input x input rate + cache read x cache read rate + cache write x cache write rate
   + output x output rate) / 1e6, a missing cache rate being the input rate, in exact integer
   arithmetic on rates held to 12 decimals (the warehouse's precision), rounded half-even to
   12 decimals of a dollar. The one-hour cache write rate is not used: usage has no bucket for
   it yet.

``price_status`` says why a cost is empty: ``no_price`` (no key matches, or the key has no
row for the tier nor for standard), ``no_price_at_time`` (a key matches but no version is
valid at T, or T is missing), ``non_usd_price`` (the version's currency is not USD: FX
conversion happens elsewhere), ``bad_tokens`` (a negative token count, or one of 2**53 or
more); ``priced`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TIERS = ("standard", "batch", "priority", "flex")
PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "google": ("gemini", "vertex_ai"),
    "google_ai_studio": ("gemini",),
    "gemini": ("vertex_ai",),
    "vertex_ai": ("gemini",),
    "vertex_ai_beta": ("vertex_ai",),
    "azure_openai": ("azure",),
    "azure": ("azure_text",),
    "openai": ("text-completion-openai",),
    "aws": ("bedrock",),
    "aws_bedrock": ("bedrock",),
    "amazon_bedrock": ("bedrock",),
    "bedrock": ("bedrock_converse",),
    "cohere": ("cohere_chat",),
    "together": ("together_ai",),
    "fireworks": ("fireworks_ai",),
    "mistralai": ("mistral",),
}
# LiteLLM bills these from the threshold on (utils.py _INCLUSIVE_THRESHOLD_PROVIDERS).
INCLUSIVE_THRESHOLD_PROVIDERS = frozenset({"xai"})
STATUSES = ("priced", "no_price", "no_price_at_time", "non_usd_price", "bad_tokens")
TOKENS = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
RATE_COLUMNS = ("input_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "output_per_mtok")
_DATED = re.compile(r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")
_E12 = Decimal("1e-12")
_B = 1_000_000  # limb base: products of two limbs stay far inside int64
_MAX_TOKENS = 2**53
_NAT = np.iinfo(np.int64).min
_OPEN = np.iinfo(np.int64).max


def _utc_micros(values: pd.Series) -> np.ndarray:
    """Timestamps as UTC microseconds (naive ones are UTC); missing ones as the int64 min."""
    ts = pd.to_datetime(values.reset_index(drop=True), utc=True, format="mixed")
    return ts.dt.as_unit("us").array.asi8.copy()


def _scaled_rate(value, version) -> int | None:
    """A per-Mtok rate (Decimal, decimal text, number) as an integer of 1e-12 dollars."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    rate = Decimal(str(value)).quantize(_E12, rounding=ROUND_HALF_EVEN)
    if not rate.is_finite() or rate < 0 or rate.scaleb(12) >= 2**63:
        raise ValueError(f"price version {version}: {value!r} is not a usable rate")
    return int(rate.scaleb(12))


def _limbs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    high, low = np.divmod(x, _B)
    top, mid = np.divmod(high, _B)
    return low, mid, top


@dataclass(frozen=True)
class _Timeline:
    """Sorted lookup arrays, each starting with a sentinel so a search never falls off:
    the epochs of every tier key (consecutive spans over which its valid versions stay the
    same) and the threshold rows of every epoch."""

    bounds: np.ndarray  # every distinct version boundary
    epoch_key: np.ndarray  # tier key * (len(bounds) + 1) + rank of the epoch's start
    epoch_tier_key: np.ndarray
    row_key: np.ndarray  # epoch * row_stride + threshold code
    row_epoch: np.ndarray
    row_version: np.ndarray
    row_stride: int


class PriceBook:
    """The price rows of one run, indexed for vectorized lookups (see the module rules)."""

    def __init__(self, versions: pd.DataFrame) -> None:
        self.versions = versions
        self._timeline, self._tier_keys = _timeline(versions)
        self._models: dict[str, set[str]] = {}
        for provider, model in self._tier_keys:
            self._models.setdefault(provider, set()).add(model)
        self._vertex_families = sorted(p for p in self._models if p.startswith("vertex_ai-"))
        self._chains: dict[str, list[str]] = {}
        # (provider, model, tier) as they arrive -> tier key: a window's chunks share one
        # book, so each distinct spelling is resolved once per run, not once per chunk.
        self._resolved: dict[tuple, int] = {}
        # One padding element last, so version -1 (none) indexes harmlessly.
        rates = {c: np.append(versions[c].to_numpy(dtype=np.int64), 0) for c in RATE_COLUMNS}
        self._rates = {c: _limbs(r) for c, r in rates.items()}
        self._usd = np.append((versions["currency"] == "USD").to_numpy(dtype=bool), False)
        self._version_ids = pa.array(versions["version"].tolist(), type=pa.large_string())

    @classmethod
    def from_frame(cls, prices: pd.DataFrame) -> PriceBook:
        """Build from ``model_prices`` rows: rates as Decimal, decimal text or None, times
        aware or naive UTC, a missing ``valid_to`` for the current version."""

        def text(column: str) -> pd.Series:
            return prices[column].astype("str").str.strip().str.lower()

        df = pd.DataFrame(
            {
                "version": prices["version"].astype("str").to_numpy(),
                "provider": text("provider").to_numpy(),
                "model": text("model").to_numpy(),
                "service_tier": text("service_tier").fillna("standard").to_numpy(),
                "min_prompt_tokens": prices["min_prompt_tokens"].astype("int64").to_numpy(),
                "currency": text("currency").str.upper().fillna("USD").to_numpy(),
                "valid_from": _utc_micros(prices["valid_from"]),
                "valid_to": _utc_micros(prices["valid_to"]),
            }
        )
        df.loc[df["valid_to"] == _NAT, "valid_to"] = _OPEN
        for col in RATE_COLUMNS:
            values = zip(prices[col], df["version"], strict=True)
            df[col] = pd.array([_scaled_rate(v, version) for v, version in values], dtype="Int64")
        if df["input_per_mtok"].isna().any() or df["output_per_mtok"].isna().any():
            raise ValueError("every price version needs an input and an output rate")
        for col in ("cache_read_per_mtok", "cache_write_per_mtok"):
            df[col] = df[col].fillna(df["input_per_mtok"])
        return cls(df[df["valid_to"] > df["valid_from"]].reset_index(drop=True))

    def key_for(self, provider, model) -> tuple[str, str] | None:
        """The price key (provider, model) that a usage provider and model match (rules 1-5)."""
        provider = "" if pd.isna(provider) else str(provider).strip().lower()
        model = "" if pd.isna(model) else str(model).strip().lower()
        if not provider and "/" in model:
            provider, model = model.split("/", 1)
        chain = self._chain(provider)
        for prefix in chain:
            while model.startswith(f"{prefix}/"):
                model = model[len(prefix) + 1 :]
        names = [model]
        if (undated := _DATED.sub("", model)) != model:
            names.append(undated)
        for name in names:
            for candidate in chain:
                models = self._models.get(candidate, ())
                for spelled in (name, f"{provider}/{name}", f"{candidate}/{name}"):
                    if spelled in models:
                        return candidate, spelled
        return None

    def _chain(self, provider: str) -> list[str]:
        """The provider, then its aliases (rule 4), each once."""
        if provider not in self._chains:
            chain, todo = [], [provider]
            while todo:
                if (p := todo.pop(0)) not in chain:
                    chain += [p, *self._vertex_families] if p == "vertex_ai" else [p]
                    todo += PROVIDER_ALIASES.get(p, ())
            self._chains[provider] = chain
        return self._chains[provider]

    def _tier_key(self, key: tuple[str, str] | None, tier) -> int:
        if key is None:
            return -1
        tier = tier.strip().lower() if isinstance(tier, str) else "standard"
        tiers = self._tier_keys[key]
        return tiers.get(tier if tier in TIERS else "standard", tiers.get("standard", -1))


def _timeline(versions: pd.DataFrame) -> tuple[_Timeline, dict]:
    """Per (provider, model, tier): epochs at every version boundary, each with the threshold
    rows valid then (the tier's own, else standard's), as flat sorted arrays."""
    slots: dict[tuple, dict[str, dict[int, list]]] = {}
    columns = ("provider", "model", "service_tier", "min_prompt_tokens", "valid_from", "valid_to")
    for i, (p, m, t, th, start, end) in enumerate(
        zip(*(versions[c] for c in columns), strict=True)
    ):
        slots.setdefault((p, m), {}).setdefault(t, {}).setdefault(th, []).append((start, end, i))
    bounds = np.unique(np.concatenate([versions["valid_from"], versions["valid_to"]]))
    bounds = bounds[bounds != _OPEN]
    rank = {int(b): r for r, b in enumerate(bounds, start=1)}
    stride = len(bounds) + 1
    epochs, rows, tier_keys, tk = [(-1, -1)], [(-1, 0, -1)], {}, -1
    for (provider, model), by_tier in slots.items():
        inclusive = provider in INCLUSIVE_THRESHOLD_PROVIDERS
        for tier, own in by_tier.items():
            tk += 1
            tier_keys.setdefault((provider, model), {})[tier] = tk
            standard = by_tier.get("standard", {}) if tier != "standard" else {}
            times = {x for s in (own, standard) for vs in s.values() for v in vs for x in v[:2]}
            for start in sorted(times - {_OPEN}):
                epochs.append((tk * stride + rank[start], tk))
                for th, version in _valid(own, start) or _valid(standard, start):
                    code = 0 if th <= 0 else th if inclusive else th + 1
                    rows.append((len(epochs) - 1, code, version))
    epochs_a, rows_a = np.array(epochs, dtype=np.int64), np.array(rows, dtype=np.int64)
    row_stride = int(rows_a[:, 1].max()) + 1
    row_key = rows_a[:, 0] * row_stride + rows_a[:, 1]
    order = np.argsort(row_key, kind="stable")
    timeline = _Timeline(
        bounds=bounds,
        epoch_key=epochs_a[:, 0],
        epoch_tier_key=epochs_a[:, 1],
        row_key=row_key[order],
        row_epoch=rows_a[order, 0],
        row_version=rows_a[order, 2],
        row_stride=row_stride,
    )
    return timeline, tier_keys


def _valid(by_threshold: dict, instant: int) -> list[tuple[int, int]]:
    """(threshold, version) of each row valid at ``instant``."""
    return [(th, i) for th, vs in by_threshold.items() for f, to, i in vs if f <= instant < to]


def _tier_keys_per_row(usage: pd.DataFrame, book: PriceBook) -> np.ndarray:
    """Rules 1-6 once per distinct (provider, model, service_tier), broadcast to the rows."""
    parts = [pd.factorize(usage[c], use_na_sentinel=False) for c in ("provider", "model")]
    parts.append(pd.factorize(usage["service_tier"], use_na_sentinel=False))
    combined = np.zeros(len(usage), dtype=np.int64)
    for codes, uniques in parts:
        combined = combined * (len(uniques) + 1) + codes
    inverse, distinct = pd.factorize(combined)
    names = [uniques.tolist() for _, uniques in parts]
    keys: dict[tuple, tuple | None] = {}
    resolved = book._resolved
    tier_keys = []
    for c in distinct.tolist():
        c, tier = divmod(c, len(names[2]) + 1)
        provider, model = divmod(c, len(names[1]) + 1)
        spelled = (names[0][provider], names[1][model], names[2][tier])
        found = resolved.get(spelled)
        if found is None:
            pair = spelled[:2]
            if pair not in keys:
                keys[pair] = book.key_for(*pair)
            found = resolved[spelled] = book._tier_key(keys[pair], spelled[2])
        tier_keys.append(found)
    return np.array(tier_keys, dtype=np.int64)[inverse]


def _cost_text(tokens: list[np.ndarray], rates: list[tuple]) -> pa.Array:
    """sum(tokens x rate) / 1e6 dollars, rounded half-even to 12 decimals, as decimal text.

    Rates are integers of 1e-12 dollars per Mtok (below 2**63) and tokens below 2**53, so the
    exact sum reaches ~1e35: it is carried in base-1e6 limbs, whose products fit in int64.
    """
    c = [np.zeros(len(tokens[0]), dtype=np.int64) for _ in range(5)]
    for t, (r0, r1, r2) in zip(tokens, rates, strict=True):
        if not len(t) or t.max() < _B:  # the usual case: tokens fit one limb
            c[0] += t * r0
            c[1] += t * r1
            c[2] += t * r2
            continue
        t0, t1, t2 = _limbs(t)
        c[0] += t0 * r0
        c[1] += t0 * r1 + t1 * r0
        c[2] += t0 * r2 + t1 * r1 + t2 * r0
        c[3] += t1 * r2 + t2 * r1
        c[4] += t2 * r2
    # Limb k counts 1e-18 * 1e6**k dollars; limb 0 is below the 12th decimal: round it away.
    carry, below = np.divmod(c[0], _B)
    digits = []
    for limb in c[1:4]:
        carry, digit = np.divmod(limb + carry, _B)
        digits.append(digit)
    half = _B // 2
    up = (below > half) | ((below == half) & (digits[0] % 2 == 1))
    frac = digits[1] * _B + digits[0] + up  # in 1e-12 dollars, up to one dollar
    whole = (c[4] + carry) * _B + digits[2] + frac // (_B * _B)
    frac_text = pc.utf8_lpad(pc.cast(pa.array(frac % (_B * _B)), pa.string()), 12, "0")
    return pc.binary_join_element_wise(pc.cast(pa.array(whole), pa.string()), frac_text, ".")


def _text(values: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(
        pd.arrays.ArrowStringArray(values.cast(pa.large_string())), index=index
    ).astype("str")


def price_usage(usage: pd.DataFrame, book: PriceBook) -> pd.DataFrame:
    """``computed_cost_usd`` (decimal text with 12 decimals, or missing), ``price_version``
    and ``price_status`` (``STATUSES``) for every usage row, aligned to ``usage.index``."""
    tl = book._timeline
    tier_key = _tier_keys_per_row(usage, book)
    tokens = [usage[c].to_numpy(dtype="int64", na_value=0) for c in TOKENS]
    at = usage["occurred_at"]
    at = at.dt.tz_localize("UTC") if at.dt.tz is None else at.dt.tz_convert("UTC")
    micros = at.dt.as_unit("us").array.asi8

    rank = np.searchsorted(tl.bounds, micros, side="right")
    epoch_key = tier_key * (len(tl.bounds) + 1) + rank
    epoch = np.searchsorted(tl.epoch_key, epoch_key, side="right") - 1
    prompt = np.clip(tokens[0] + tokens[1] + tokens[2], 0, tl.row_stride - 1)
    row = np.searchsorted(tl.row_key, epoch * tl.row_stride + prompt, side="right") - 1
    found = (tier_key >= 0) & (micros != _NAT) & (tl.epoch_tier_key[epoch] == tier_key)
    found &= tl.row_epoch[row] == epoch
    version = np.where(found, tl.row_version[row], -1)

    bad = np.zeros(len(usage), dtype=bool)
    for t in tokens:
        bad |= (t < 0) | (t >= _MAX_TOKENS)
    status = np.where(found, 0, np.where(tier_key < 0, 1, 2)).astype(np.int8)
    status[found & ~book._usd[version]] = STATUSES.index("non_usd_price")
    status[bad & (tier_key >= 0)] = STATUSES.index("bad_tokens")
    priced = status == 0

    rates = [tuple(limb[version] for limb in book._rates[c]) for c in RATE_COLUMNS]
    cost = _cost_text([np.where(priced, t, 0) for t in tokens], rates)
    cost = pc.if_else(pa.array(priced), cost, pa.scalar(None, pa.string()))
    versions = book._version_ids.take(pa.array(version, mask=version < 0))
    statuses = pa.array(STATUSES, type=pa.large_string()).take(pa.array(status))
    return pd.DataFrame(
        {
            "computed_cost_usd": _text(cost, usage.index),
            "price_version": _text(versions, usage.index),
            "price_status": _text(statuses, usage.index),
        },
        index=usage.index,
    )
