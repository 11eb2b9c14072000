"""The effective-dated price history rules, as pure functions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from costsync_pipeline.sources.prices.litellm_map import PriceRow
from costsync_pipeline.transforms.price_history import (
    BEGINNING,
    Offer,
    StoredPrice,
    plan_history,
    rates_of,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def row(input_rate="2.5", output_rate="10", model="gpt-4o") -> PriceRow:
    return PriceRow(
        "openai", model, "standard", 0, Decimal(input_rate), Decimal(output_rate), None, None, None
    )


def apply(stored: list[StoredPrice], changes) -> list[StoredPrice]:
    out = [
        StoredPrice(
            s.version,
            s.key,
            s.rates,
            s.source,
            s.valid_from,
            changes.closes.get(s.version, s.valid_to),
        )
        for s in stored
    ]
    for o in changes.opens:
        key = (o["provider"], o["model"], o["service_tier"], o["min_prompt_tokens"])
        rates = (
            o["input_per_mtok"],
            o["output_per_mtok"],
            o["cache_read_per_mtok"],
            o["cache_write_per_mtok"],
            o["cache_write_1h_per_mtok"],
            o["currency"],
        )
        out.append(
            StoredPrice(
                o["version"],
                key,
                tuple(r.normalize() if isinstance(r, Decimal) else r for r in rates),
                o["source"],
                o["valid_from"],
                o["valid_to"],
            )
        )
    return out


def valid_at(stored, key, instant):
    return [
        s
        for s in stored
        if s.key == key and s.valid_from <= instant and (s.valid_to is None or instant < s.valid_to)
    ]


KEY = ("openai", "gpt-4o", "standard", 0)


def test_first_price_is_valid_from_the_beginning_and_a_repeat_changes_nothing():
    changes = plan_history([], [Offer(row(), "feed:litellm", T0)])
    (opened,) = changes.opens
    assert opened["valid_from"] == BEGINNING and opened["valid_to"] is None
    stored = apply([], changes)
    again = plan_history(stored, [Offer(row(), "feed:litellm", T0 + DAY)])
    assert again.opens == [] and again.closes == {}


def test_a_change_closes_the_old_price_when_it_was_seen():
    stored = apply([], plan_history([], [Offer(row(), "feed:litellm", T0)]))
    changes = plan_history(stored, [Offer(row("3"), "feed:litellm", T0 + DAY)])
    assert list(changes.closes.values()) == [T0 + DAY]
    assert changes.opens[0]["valid_from"] == T0 + DAY
    assert changes.changed_from == {KEY: T0 + DAY}
    stored = apply(stored, changes)
    assert valid_at(stored, KEY, T0)[0].rates == rates_of(row())
    assert valid_at(stored, KEY, T0 + 2 * DAY)[0].rates == rates_of(row("3"))


def test_a_correction_dated_in_the_past_rewrites_history_from_then_on():
    stored = apply([], plan_history([], [Offer(row(), "feed:litellm", T0)]))
    stored = apply(stored, plan_history(stored, [Offer(row("3"), "feed:litellm", T0 + 5 * DAY)]))
    fix = Offer(row("2"), "inbox:fix.json", T0 + 6 * DAY, effective_from=T0 + 2 * DAY)
    changes = plan_history(stored, [fix])
    assert changes.changed_from == {KEY: T0 + 2 * DAY}
    stored = apply(stored, changes)
    assert valid_at(stored, KEY, T0 + DAY)[0].rates == rates_of(row())
    for day in (2, 5, 7):
        (price,) = valid_at(stored, KEY, T0 + day * DAY)
        assert price.rates == rates_of(row("2"))
    # Nothing is deleted: the version the correction superseded is kept, emptied.
    assert len(stored) == 3
    (emptied,) = [s for s in stored if s.rates == rates_of(row("3"))]
    assert emptied.valid_to == emptied.valid_from == T0 + 5 * DAY


def test_sources_rank_override_inbox_feed_default():
    stored = apply([], plan_history([], [Offer(row("1"), "override:negotiated.json", T0)]))
    # The feed cannot replace a negotiated price...
    assert plan_history(stored, [Offer(row("9"), "feed:litellm", T0 + DAY)]).opens == []
    # ...and within one batch the best-ranked source wins.
    changes = plan_history(
        [],
        [
            Offer(row("9"), "default:bundled", T0),
            Offer(row("5"), "feed:litellm", T0),
            Offer(row("4"), "inbox:prices.json", T0),
        ],
    )
    assert [o["input_per_mtok"] for o in changes.opens] == [Decimal("4")]
    assert changes.opens[0]["source"] == "inbox:prices.json"


def test_versions_are_the_same_on_every_run():
    a = plan_history([], [Offer(row(), "feed:litellm", T0)])
    b = plan_history([], [Offer(row(), "feed:litellm", T0 + DAY)])
    assert a.opens[0]["version"] == b.opens[0]["version"]  # both start at the beginning


prices = st.sampled_from(["1", "2", "3"])
offsets = st.integers(min_value=0, max_value=30)
offers = st.lists(
    st.tuples(
        prices,
        offsets,
        st.one_of(st.none(), offsets),
        st.sampled_from(["feed:litellm", "inbox:a.json", "default:bundled"]),
    ),
    min_size=1,
    max_size=8,
)


def test_returning_to_an_emptied_price_reopens_its_version():
    stored: list[StoredPrice] = []
    for price in ("1", "2", "1", "2"):  # all seen at the same instant
        stored = apply(stored, plan_history(stored, [Offer(row(price), "feed:litellm", T0)]))
    versions = [s.version for s in stored]
    assert len(versions) == len(set(versions))  # the version is the table's key
    (now,) = valid_at(stored, KEY, T0 + DAY)
    assert now.rates == rates_of(row("2"))


@settings(max_examples=300, deadline=None)
@given(offers)
def test_at_most_one_price_is_valid_at_any_instant(sequence):
    stored: list[StoredPrice] = []
    for price, seen, effective, source in sequence:
        offer = Offer(
            row(price), source, T0 + seen * DAY, None if effective is None else T0 + effective * DAY
        )
        stored = apply(stored, plan_history(stored, [offer]))
    versions = [s.version for s in stored]
    assert len(versions) == len(set(versions))
    for day in range(-1, 40):
        assert len(valid_at(stored, KEY, T0 + day * DAY + dt.timedelta(hours=1))) <= 1
    assert valid_at(stored, KEY, BEGINNING) or all(e is not None for _, _, e, _ in sequence[:1])
