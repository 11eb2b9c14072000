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
* Every offer counts, in the order it takes effect; of offers taking effect at the same
  instant, the best-ranked one. An offer's price runs from its effective time until the next
  price of a source at least as good; later prices of worse sources are emptied
  (``valid_to = valid_from``) rather than deleted, so every version stays on record.
* At most one row per key is valid at any instant: a change closes the row valid at its
  effective time (``valid_to``).
* A negotiated price removed from the overrides file ends when that is seen, and the best
  remaining source's price takes over from then.

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


@dataclass
class _Row:
    """A version of one key while a plan is made (stored, or opened by this plan)."""

    version: str
    rates: tuple
    source: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    opened: dict | None = None  # the row to insert, when this plan opened it

    @property
    def live(self) -> bool:
        return self.valid_to is None or self.valid_to > self.valid_from

    def holds(self, instant: dt.datetime) -> bool:
        return self.valid_from <= instant and (self.valid_to is None or instant < self.valid_to)


def _best(offers: list[Offer]) -> Offer:
    """Highest-ranked source; among equals the latest effective (or seen) one."""
    return min(
        offers,
        key=lambda o: (
            source_rank(o.source),
            -(o.effective_from or o.seen_at).timestamp(),
        ),
    )


def _kind(source: str) -> str:
    return source.split(":", 1)[0]


class _KeyPlan:
    """The history of one key, changed offer by offer; records what to close and open."""

    def __init__(self, key: tuple, stored: list[StoredPrice], out: HistoryChanges):
        self.key, self.out = key, out
        self.rows = [
            _Row(s.version, s.rates, s.source, s.valid_from, s.valid_to)
            for s in sorted(stored, key=lambda s: s.valid_from)
        ]

    def live(self) -> list[_Row]:
        return sorted((r for r in self.rows if r.live), key=lambda r: r.valid_from)

    def at(self, instant: dt.datetime) -> _Row | None:
        return next((r for r in self.live() if r.holds(instant)), None)

    def _set_end(self, row: _Row, valid_to: dt.datetime | None) -> None:
        row.valid_to = valid_to
        if row.opened is not None:
            row.opened["valid_to"] = valid_to
        else:
            self.out.closes[row.version] = valid_to

    def _open(self, offer: Offer, start: dt.datetime, end: dt.datetime | None) -> None:
        rates = rates_of(offer.row)
        version = version_id(self.key, start, rates, offer.source)
        first = self.out.changed_from.get(self.key)
        self.out.changed_from[self.key] = start if first is None else min(first, start)
        existing = next((r for r in self.rows if r.version == version), None)
        if existing is not None:
            # The same price from the same source and start existed and was emptied by a
            # later change that is now undone: re-open that version, do not repeat it.
            self._set_end(existing, end)
            return
        opened = {
            "version": version,
            "provider": self.key[0],
            "model": self.key[1],
            "service_tier": self.key[2],
            "min_prompt_tokens": self.key[3],
            **{f: getattr(offer.row, f) for f in RATE_FIELDS},
            "valid_from": start,
            "valid_to": end,
            "source": offer.source,
            "checked_at": offer.seen_at,
        }
        self.out.opens.append(opened)
        self.rows.append(_Row(version, rates, offer.source, start, end, opened))

    def first(self, offers: list[Offer]) -> None:
        """No price yet: the best undated offer is valid from the beginning of time (else the
        earliest dated one from its date)."""
        undated = [o for o in offers if o.effective_from is None]
        offer = _best(undated) if undated else min(offers, key=lambda o: o.effective_from)
        self._open(offer, offer.effective_from or BEGINNING, None)

    def apply(self, offer: Offer, start: dt.datetime) -> None:
        """The offer's price from ``start`` on, unless a better source holds that instant or
        it is the price already valid. It runs until the next price of a source at least as
        good; later prices of worse sources are emptied (kept on record, not deleted)."""
        rank, rates = source_rank(offer.source), rates_of(offer.row)
        current = self.at(start)
        if current is not None:
            if source_rank(current.source) < rank:
                return  # a better source's price holds this instant
            if current.rates == rates and (
                offer.effective_from is None or current.valid_from <= start
            ):
                return  # the same price: nothing changes
        end = None
        for later in (r for r in self.live() if r.valid_from > start):
            if source_rank(later.source) <= rank:
                end = later.valid_from
                break
            self._set_end(later, later.valid_from)
        if current is not None:
            self._set_end(current, start)
        self._open(offer, start, end)

    def withdraw(self, now: dt.datetime, offers: list[Offer]) -> None:
        """A negotiated price no longer in the overrides file ends now; the best remaining
        source's price takes over from now."""
        current = self.at(now)
        if current is None or _kind(current.source) != "override":
            return
        if any(_kind(o.source) == "override" for o in offers):
            return
        self._set_end(current, now)
        rest = [o for o in offers if _kind(o.source) != "override"]
        if rest:
            self._open(_best(rest), now, None)


def plan_history(
    stored: list[StoredPrice], offers: list[Offer], now: dt.datetime | None = None
) -> HistoryChanges:
    """What to close and open so the history holds ``offers`` under the rules above.

    Every offer counts, in the order of the instant it takes effect (its date, else when it
    was seen); offers taking effect at the same instant give way to the best-ranked one. With
    ``now``, a key whose current price came from the overrides file and is no longer offered
    there returns to the best remaining source from ``now``.
    """
    by_key: dict[tuple, list[StoredPrice]] = {}
    for s in stored:
        by_key.setdefault(s.key, []).append(s)
    offered: dict[tuple, list[Offer]] = {}
    for o in offers:
        offered.setdefault(o.key, []).append(o)
    out = HistoryChanges()
    keys = set(offered)
    if now is not None:
        keys |= {
            k for k, rows in by_key.items() if any(_kind(r.source) == "override" for r in rows)
        }
    for key in sorted(keys, key=str):
        plan = _KeyPlan(key, by_key.get(key, []), out)
        candidates = offered.get(key, [])
        if candidates and not plan.live():
            plan.first(candidates)
        instants: dict[dt.datetime, list[Offer]] = {}
        for o in candidates:
            instants.setdefault(o.effective_from or o.seen_at, []).append(o)
        for instant in sorted(instants):
            plan.apply(_best(instants[instant]), instant)
        if now is not None:
            plan.withdraw(now, candidates)
    return out
