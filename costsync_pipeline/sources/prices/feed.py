"""LiteLLM's price map as a feed: fetched, checked, and refused when it looks broken.

The guard is LiteLLM's own (``GetModelCostMap.validate_model_cost_map``): a fetched map that
is not a non-empty object, or that has fewer than half the models of the map in use, is
refused rather than loaded, because a truncated upstream file would otherwise make most
models unpriced at once. Model entries are counted as LiteLLM counts them, without the
reserved top-level keys ``sample_spec`` (the map's documentation) and
``fallback_generalizations`` (not a model).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from costsync_pipeline.sources.http import fetch
from costsync_pipeline.sources.prices.litellm_map import PriceMapError, PriceRow, parse_price_map

RESERVED_KEYS = frozenset({"sample_spec", "fallback_generalizations"})
MAX_SHRINK_RATIO = 2  # refuse a map with fewer than 1/2 of the current model count


class FeedRefused(ValueError):
    """The feed's body is not a usable price map; the message names the URL and why."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"price feed {url} refused: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class FeedSnapshot:
    url: str
    rows: list[PriceRow]
    model_count: int  # model entries in the document, reserved keys excluded
    checksum: str  # sha256 hex of the bytes as received


def count_models(document: dict) -> int:
    return sum(1 for key in document if key not in RESERVED_KEYS)


def read_feed(data: bytes, url: str, *, current_model_count: int | None) -> FeedSnapshot:
    """The price rows of a fetched LiteLLM map; FeedRefused when it is not JSON, not an
    object, holds no token-priced model, or has shrunk below half of ``current_model_count``
    (the count of the map in use; None when there is none yet)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedRefused(url, f"not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno} (char {exc.pos} of {len(text):,})"
        raise FeedRefused(url, f"not JSON: {exc.msg} at {where}") from None
    if not isinstance(document, dict):
        raise FeedRefused(url, f"a price map is a JSON object, not {type(document).__name__}")
    model_count = count_models(document)
    if model_count == 0:
        raise FeedRefused(url, "the map holds no model entries")
    if current_model_count and model_count * MAX_SHRINK_RATIO < current_model_count:
        raise FeedRefused(
            url,
            f"the map shrank from {current_model_count:,} to {model_count:,} models "
            f"(less than half: probably truncated upstream)",
        )
    try:
        rows = parse_price_map(document)
    except PriceMapError as exc:
        raise FeedRefused(url, str(exc)) from None
    return FeedSnapshot(url, rows, model_count, hashlib.sha256(data).hexdigest())


def fetch_feed(url: str, *, current_model_count: int | None, **fetch_kwargs) -> FeedSnapshot:
    """``fetch`` then ``read_feed``: FetchError when the bytes cannot be had, FeedRefused when
    they are not a price map worth loading."""
    return read_feed(fetch(url, **fetch_kwargs), url, current_model_count=current_model_count)
