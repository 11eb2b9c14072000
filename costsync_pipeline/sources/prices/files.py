"""Price files in seed 002's shape and model-cost-update events in seed 000's shape.

Seed 002 (the earlier system's ``.ai_costs.json``)::

    {"last_updated": "2026-01-07T10:00:00Z", "usd_to_zar": 18.45,
     "providers": {"openai": [{"model_id": "gpt-4o", "input_cost_per_1m_tokens": 2.5,
                               "output_cost_per_1m_tokens": 10.0}, ...], ...}}

Seed 000 (the model-cost-update webhook body), one object, a list of them, or JSON Lines::

    {"provider": "OpenAI", "model": "gpt-4-turbo", "inputTokenCost": 0.00001,
     "outputTokenCost": 0.00003, "currency": "USD"}

A seed 002 model entry may also carry ``cache_read_cost_per_1m_tokens``,
``cache_write_cost_per_1m_tokens``, ``cache_write_1h_cost_per_1m_tokens``, ``service_tier``,
``min_prompt_tokens``, ``currency`` and ``valid_from`` (a dated price or correction; the file may
set ``valid_from`` for all its entries): the overrides file uses these for negotiated prices.

Event costs are per token; rows carry them per million tokens. Values are read from the
JSON text as decimals (never through binary floats). A record that cannot be priced is
reported with its position and reason, and the others are kept.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from costsync_pipeline.sources.prices.litellm_map import MTOK, PriceRow


class PriceFileError(ValueError):
    """The file as a whole is not a price file of a known shape."""


@dataclass
class PriceFile:
    shape: str  # "seed002" or "events"
    rows: list[PriceRow]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    last_updated: dt.datetime | None = None
    usd_to_zar: Decimal | None = None
    # Per row: when the source dates the price (``valid_from``), else None (when it is seen).
    effective_from: list[dt.datetime | None] = field(default_factory=list)

    def add(self, row: PriceRow, effective_from: dt.datetime | None = None) -> None:
        self.rows.append(row)
        self.effective_from.append(effective_from)


def _decimal(value, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} is missing or not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{what} {value!r} is not a number") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what} {value!r} is not a non-negative number")
    return number


def _text(value, what: str) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"{what} is missing")
    return text


def _timestamp(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def _row(provider: str, model: str, input_rate: Decimal, output_rate: Decimal, currency="USD"):
    return PriceRow(
        provider, model, "standard", 0, input_rate, output_rate, None, None, None, currency
    )


OPTIONAL_RATES = {
    "cache_read_per_mtok": "cache_read_cost_per_1m_tokens",
    "cache_write_per_mtok": "cache_write_cost_per_1m_tokens",
    "cache_write_1h_per_mtok": "cache_write_1h_cost_per_1m_tokens",
}
TIERS = ("standard", "batch", "priority", "flex")


def _seed002_row(provider: str, item: dict) -> PriceRow:
    if not isinstance(item, dict):
        raise ValueError("not an object")
    optional = {
        name: _decimal(item[key], key) if item.get(key) is not None else None
        for name, key in OPTIONAL_RATES.items()
    }
    tier = str(item.get("service_tier") or "standard").strip().lower()
    if tier not in TIERS:
        raise ValueError(f"service_tier {tier!r} is not one of {', '.join(TIERS)}")
    threshold = item.get("min_prompt_tokens") or 0
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"min_prompt_tokens {threshold!r} is not a whole number >= 0")
    currency = str(item.get("currency") or "USD").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency {currency!r} is not a 3-letter ISO 4217 code")
    return PriceRow(
        _text(provider, "provider"),
        _text(item.get("model_id"), "model_id"),
        tier,
        threshold,
        _decimal(item.get("input_cost_per_1m_tokens"), "input_cost_per_1m_tokens"),
        _decimal(item.get("output_cost_per_1m_tokens"), "output_cost_per_1m_tokens"),
        currency=currency,
        **optional,
    )


def _seed002(doc: dict, name: str) -> PriceFile:
    out = PriceFile("seed002", [])
    try:
        out.last_updated = _timestamp(doc.get("last_updated"))
    except ValueError as exc:
        raise PriceFileError(f"{name}: last_updated is not an ISO 8601 timestamp ({exc})") from exc
    try:
        file_from = _timestamp(doc.get("valid_from"))
    except ValueError as exc:
        raise PriceFileError(f"{name}: valid_from is not an ISO 8601 timestamp ({exc})") from exc
    if doc.get("usd_to_zar") is not None:
        try:
            out.usd_to_zar = _decimal(doc["usd_to_zar"], "usd_to_zar")
        except ValueError as exc:
            out.problems.append(("usd_to_zar", str(exc)))
    for provider, models in doc["providers"].items():
        if not isinstance(models, list):
            out.problems.append((f"providers.{provider}", "not a list of models"))
            continue
        for i, item in enumerate(models):
            where = f"providers.{provider}[{i}]"
            try:
                row = _seed002_row(provider, item)
                try:
                    valid_from = _timestamp(item.get("valid_from")) or file_from
                except ValueError as exc:
                    raise ValueError(f"valid_from is not an ISO 8601 timestamp ({exc})") from exc
                out.add(row, valid_from)
            except ValueError as exc:
                out.problems.append((where, str(exc)))
    return out


def _events(items: list, name: str) -> PriceFile:
    out = PriceFile("events", [])
    for i, item in enumerate(items, start=1):
        where = f"event {i}"
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            currency = str(item.get("currency") or "USD").strip().upper()
            out.add(
                _row(
                    _text(item.get("provider"), "provider"),
                    _text(item.get("model"), "model"),
                    _decimal(item.get("inputTokenCost"), "inputTokenCost") * MTOK,
                    _decimal(item.get("outputTokenCost"), "outputTokenCost") * MTOK,
                    currency,
                )
            )
        except ValueError as exc:
            out.problems.append((where, str(exc)))
    return out


def read_price_file(data: bytes, name: str) -> PriceFile:
    """A seed 002 price file or seed 000 events; raises PriceFileError naming the file."""
    text = data.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise PriceFileError(f"{name}: the file is empty")
    try:
        doc = json.loads(text, parse_float=Decimal)
    except ValueError:
        try:
            doc = [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line]
        except ValueError as exc:
            raise PriceFileError(f"{name}: not JSON or JSON Lines ({exc})") from exc
    if isinstance(doc, dict) and isinstance(doc.get("providers"), dict):
        return _seed002(doc, name)
    if isinstance(doc, dict) and "inputTokenCost" in doc:
        doc = [doc]
    if isinstance(doc, list) and any(isinstance(d, dict) and "inputTokenCost" in d for d in doc):
        return _events(doc, name)
    raise PriceFileError(
        f"{name}: neither a seed 002 price file (an object with a providers map) nor "
        "model-cost-update events (provider, model, inputTokenCost, outputTokenCost)"
    )
