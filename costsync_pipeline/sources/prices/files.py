"""Price files in seed 002's shape and model-cost-update events in seed 000's shape.

Seed 002 (the earlier system's ``.ai_costs.json``)::

    {"last_updated": "2026-01-07T10:00:00Z", "usd_to_zar": 18.45,
     "providers": {"openai": [{"model_id": "gpt-4o", "input_cost_per_1m_tokens": 2.5,
                               "output_cost_per_1m_tokens": 10.0}, ...], ...}}

Seed 000 (the model-cost-update webhook body), one object, a list of them, or JSON Lines::

    {"provider": "OpenAI", "model": "gpt-4-turbo", "inputTokenCost": 0.00001,
     "outputTokenCost": 0.00003, "currency": "USD"}

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


def _seed002(doc: dict, name: str) -> PriceFile:
    out = PriceFile("seed002", [])
    try:
        out.last_updated = _timestamp(doc.get("last_updated"))
    except ValueError as exc:
        raise PriceFileError(f"{name}: last_updated is not an ISO 8601 timestamp ({exc})") from exc
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
                if not isinstance(item, dict):
                    raise ValueError("not an object")
                out.rows.append(
                    _row(
                        _text(provider, "provider"),
                        _text(item.get("model_id"), "model_id"),
                        _decimal(item.get("input_cost_per_1m_tokens"), "input_cost_per_1m_tokens"),
                        _decimal(
                            item.get("output_cost_per_1m_tokens"), "output_cost_per_1m_tokens"
                        ),
                    )
                )
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
            out.rows.append(
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
