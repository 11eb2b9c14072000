"""Effective-dated price history: which stored rows close and which open for new offers.

Rules (issue 4, point 2):

* A price is a (provider, model, service_tier, min_prompt_tokens) key with its rates.
* Sources rank: ``override`` (negotiated prices) > ``inbox`` (files and events) > ``feed``
  (LiteLLM's map) > ``default`` (the bundled file). An offer only replaces the current price
  when its source ranks at least as high as the current price's source.
* An offer that repeats the current rates changes nothing.
* The first price ever seen for a key is valid from the beginning of time, so history and
  backfills are priced; a later change takes effect when it was seen, unless its source
  dates it (``effective_from``), which may lie in the past (a correction).
* At most one row per key is valid at any instant: a change closes the row valid at its
  effective time (``valid_to``), and rows that started later are emptied
  (``valid_to = valid_from``) rather than deleted, so every version stays on record.

Pure functions over plain records; the warehouse applies the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from costsync_pipeline.sources.prices.litellm_map import PriceRow

BEGINNING = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SOURCE_RANK = {"override": 0, "inbox": 1, "feed": 2, "default": 3}
RATE_FIELDS = (
    "input_per_mtok",
    "output_per_mtok",
    "cache_read_per_mtok",
    "cache_write_per_mtok",
    "cache_write_1h_per_mtok",
    "currency",
)


def source_rank(source: str) -> int:
    """``feed:litellm`` -> 2; the part before the colon names the kind of source."""
    kind = source.split(":", 1)[0]
    if kind not in SOURCE_RANK:
        raise ValueError(f"unknown price source {source!r} (kinds: {', '.join(SOURCE_RANK)})")
    return SOURCE_RANK[kind]


@dataclass(frozen=True)
class Offer:
    row: PriceRow
    source: str  # "<kind>:<name>", e.g. "feed:litellm", "inbox:prices.json"
    seen_at: dt.datetime
    effective_from: dt.datetime | None = None  # when the source dates the price

    @property
    def key(self) -> tuple:
        r = self.row
        return (r.provider, r.model, r.service_tier, r.min_prompt_tokens)


@dataclass(frozen=True)
class StoredPrice:
    version: str
    key: tuple
    rates: tuple
    source: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None


@dataclass
class HistoryChanges:
    # version -> new valid_to (None re-opens a version emptied earlier)
    closes: dict[str, dt.datetime | None] = field(default_factory=dict)
    opens: list[dict] = field(default_factory=list)
    # Per key, the earliest instant whose price changed: usage from then on is re-costed.
    changed_from: dict[tuple, dt.datetime] = field(default_factory=dict)


def rates_of(row: PriceRow) -> tuple:
    return tuple(
        (v.normalize() if isinstance(v, Decimal) else v)
        for v in (getattr(row, f) for f in RATE_FIELDS)
    )


def version_id(key: tuple, valid_from: dt.datetime, rates: tuple, source: str) -> str:
    """The same price from the same source and start is the same version, on any run."""
    text = "|".join(map(str, (*key, valid_from.isoformat(), *rates, source)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _valid_at(rows: list[StoredPrice], instant: dt.datetime) -> StoredPrice | None:
    for r in rows:
        if r.valid_from <= instant and (r.valid_to is None or instant < r.valid_to):
            return r
    return None


def _best(offers: list[Offer]) -> Offer:
    """Highest-ranked source; among equals the latest effective (or seen) one."""
    return min(
        offers,
        key=lambda o: (
            source_rank(o.source),
            -(o.effective_from or o.seen_at).timestamp(),
        ),
    )


def plan_history(stored: list[StoredPrice], offers: list[Offer]) -> HistoryChanges:
    """What to close and open so the history holds ``offers`` under the rules above."""
    by_key: dict[tuple, list[StoredPrice]] = {}
    for s in stored:
        by_key.setdefault(s.key, []).append(s)
    offered: dict[tuple, list[Offer]] = {}
    for o in offers:
        offered.setdefault(o.key, []).append(o)
    out = HistoryChanges()
    for key, candidates in offered.items():
        offer = _best(candidates)
        rows = sorted(by_key.get(key, []), key=lambda r: r.valid_from)
        rates = rates_of(offer.row)
        live = [r for r in rows if r.valid_to is None or r.valid_to > r.valid_from]
        if not live:
            start = offer.effective_from or BEGINNING
        else:
            start = offer.effective_from or offer.seen_at
            current = _valid_at(live, start) or live[-1]
            if source_rank(offer.source) > source_rank(current.source):
                continue  # a lower-ranked source never replaces a higher one
            if current.rates == rates and (
                offer.effective_from is None or current.valid_from <= start
            ):
                continue  # the same price: nothing changes
            for r in live:
                if r.valid_from >= start:
                    out.closes[r.version] = r.valid_from  # superseded entirely: emptied
                elif r.valid_to is None or r.valid_to > start:
                    out.closes[r.version] = start
        version = version_id(key, start, rates, offer.source)
        out.changed_from[key] = start
        if any(r.version == version for r in rows):
            # The same price from the same source and start existed and was emptied by a
            # later change that is now undone: re-open that version, do not repeat it.
            out.closes[version] = None
            continue
        out.opens.append(
            {
                "version": version,
                "provider": key[0],
                "model": key[1],
                "service_tier": key[2],
                "min_prompt_tokens": key[3],
                **{f: getattr(offer.row, f) for f in RATE_FIELDS},
                "valid_from": start,
                "valid_to": None,
                "source": offer.source,
                "checked_at": offer.seen_at,
            }
        )
    return out
