"""Defects a review of the price stage found, each fixed and kept fixed (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import sqlalchemy as sa

from costsync_pipeline.landing.costing import Costing
from costsync_pipeline.landing.fx import store_rates
from costsync_pipeline.landing.price_sources import load_inbox_prices, load_overrides
from costsync_pipeline.landing.prices import (
    apply_offers,
    clear_recosts,
    pending_recost_days,
)
from costsync_pipeline.landing.recost import affected_usage_days
from costsync_pipeline.landing.usage import land_usage_window
from costsync_pipeline.sources.fx import FxRate
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline_tests.conftest import NOW, run_concurrently, write
from costsync_pipeline_tests.landing.test_costing import (
    audit,
    dec,
    drop_records,
    prepare_prices,
    record,
    usage,
)
from costsync_pipeline_tests.landing.test_prices_landing import prices, utc
from costsync_pipeline_tests.landing.test_usage_landing import land

DAY = dt.date(2026, 11, 19)


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC)


def price_file(inbox, name, rate, valid_from=None, seen=None, model="gpt-4o"):
    entry = {"model_id": model, "input_cost_per_1m_tokens": rate, "output_cost_per_1m_tokens": 10}
    doc = {"providers": {"openai": [entry]}}
    if valid_from:
        doc["valid_from"] = valid_from.isoformat()
    write(inbox[0], name, json.dumps(doc), mtime=(seen or NOW).timestamp(), kind="prices")


def history(engine, model="gpt-4o"):
    rows = prices(engine, provider="openai", model=model, service_tier="standard")
    live = [r for r in rows if r["valid_to"] is None or r["valid_to"] > r["valid_from"]]
    return [
        (
            r["source"],
            Decimal(str(r["input_per_mtok"])).normalize(),
            utc(r["valid_from"]),
            r["valid_to"] and utc(r["valid_to"]),
        )
        for r in live
    ]


def test_a_correction_dated_before_an_earlier_dated_file_still_applies(engine, inbox):
    prepare_prices(engine)
    drop_records(inbox, "day.json", [record("r", timestamp="2026-11-12T10:00:00Z")])
    land(engine, inbox)
    price_file(inbox, "a.json", 7, valid_from=at(15), seen=at(20))
    load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    apply_offers(engine, NOW, affected_usage_days)
    price_file(inbox, "b.json", 5, valid_from=at(10), seen=at(21))
    load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    applied = apply_offers(engine, NOW, affected_usage_days)
    assert applied.recost_days == [dt.date(2026, 11, 12)]
    assert history(engine)[1:] == [
        ("inbox:b.json", Decimal(5), at(10), at(15)),
        ("inbox:a.json", Decimal(7), at(15), None),
    ]


def test_two_events_for_one_model_in_one_run_both_enter_the_history(engine, inbox):
    prepare_prices(engine)
    event = {"provider": "openai", "model": "gpt-4o", "outputTokenCost": 0.00001}
    for name, cost, seen in (("ev1.json", 0.000003, at(20, 12)), ("ev2.json", 0.000004, at(21))):
        body = json.dumps(event | {"inputTokenCost": cost})
        write(inbox[0], name, body, mtime=seen.timestamp(), kind="prices")
    load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    apply_offers(engine, NOW)
    assert [(s, r) for s, r, *_ in history(engine)[-2:]] == [
        ("inbox:ev1.json", Decimal(3)),
        ("inbox:ev2.json", Decimal(4)),
    ]


def test_a_dated_correction_stops_where_a_negotiated_price_starts(engine, inbox, tmp_path):
    prepare_prices(engine)
    overrides = tmp_path / "price_overrides.json"
    overrides.write_text(
        json.dumps(
            {
                "valid_from": at(20).isoformat(),
                "providers": {
                    "openai": [
                        {
                            "model_id": "gpt-4o",
                            "input_cost_per_1m_tokens": 1,
                            "output_cost_per_1m_tokens": 4,
                        }
                    ]
                },
            }
        )
    )
    load_overrides(engine, overrides, NOW)
    apply_offers(engine, NOW)
    price_file(inbox, "corr.json", 3, valid_from=at(10))
    load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    apply_offers(engine, NOW)
    assert history(engine)[1:] == [
        ("inbox:corr.json", Decimal(3), at(10), at(20)),
        ("override:price_overrides.json", Decimal(1), at(20), None),
    ]
    # The override removed from the file: the best remaining price takes over from then.
    overrides.unlink()
    later = NOW + dt.timedelta(hours=1)
    load_overrides(engine, overrides, later)
    applied = apply_offers(engine, later)
    assert (applied.opened, applied.closed) == (1, 1)
    assert history(engine)[-1] == ("inbox:corr.json", Decimal(3), later, None)
    assert apply_offers(engine, later + dt.timedelta(hours=1)).opened == 0  # settled


def test_a_price_change_during_a_landing_keeps_its_recost_request(engine, inbox, tmp_path):
    prepare_prices(engine)
    drop_records(inbox, "day.json", [record("r")])
    land(engine, inbox)
    costing = Costing.load(engine, DAY, DAY + dt.timedelta(days=1))  # a landing starts
    price_file(inbox, "late.json", 9, valid_from=at(1))  # a change commits meanwhile
    load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    assert apply_offers(engine, NOW, affected_usage_days).recost_days == [DAY]
    clear_recosts(engine, DAY, DAY + dt.timedelta(days=1), costing.generation)
    assert [str(p["usage_date"])[:10] for p in pending_recost_days(engine)] == ["2026-11-19"]
    land(engine, inbox, DAY, DAY + dt.timedelta(days=1))  # the re-cost itself answers it
    assert pending_recost_days(engine) == []
    assert dec(usage(engine)["r"]["computed_cost_usd"]) == (
        Decimal(1000) * 9 + 200 * Decimal(9) + 500 * Decimal(10)
    ) / Decimal(1_000_000)


def test_concurrent_recosts_of_one_day_audit_each_change_once(engine, inbox):
    prepare_prices(engine)
    drop_records(inbox, "day.json", [record(f"r{i}") for i in range(300)])
    land(engine, inbox)
    price_file(inbox, "fix.json", 2, valid_from=at(1))
    load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    apply_offers(engine, NOW, affected_usage_days)

    def recost():
        land_usage_window(engine, DAY, DAY + dt.timedelta(days=1), run_id="concurrent", now=NOW)

    assert run_concurrently(recost, 2) == []
    entries = audit(engine)
    assert len(entries) == len({e["entity_key"] for e in entries}) == 300


def test_cost_does_not_depend_on_the_days_landed_together(engine, inbox, tmp_path):
    prepare_prices(engine)
    overrides = tmp_path / "price_overrides.json"
    entry = {"model_id": "gpt-4o-2099-01-01", "input_cost_per_1m_tokens": 1}
    entry |= {"output_cost_per_1m_tokens": 2, "valid_from": at(15).isoformat()}
    overrides.write_text(json.dumps({"providers": {"openai": [entry]}}))
    load_overrides(engine, overrides, NOW)
    apply_offers(engine, NOW)
    drop_records(
        inbox, "d.json", [record("r", model="gpt-4o-2099-01-01", timestamp="2026-11-12T10:00:00Z")]
    )
    land(engine, inbox, dt.date(2026, 11, 12), dt.date(2026, 11, 13))
    alone = usage(engine)["r"]
    land(engine, inbox)  # the whole month
    together = usage(engine)["r"]
    assert (alone["price_status"], alone["computed_cost_usd"]) == (
        together["price_status"],
        together["computed_cost_usd"],
    )
    assert audit(engine) == []
    with engine.connect() as conn:
        view = conn.execute(sa.text("SELECT model, price_status FROM unpriced_models")).all()
    assert [tuple(v) for v in view] == [("gpt-4o-2099-01-01", alone["price_status"])]


def test_a_higher_source_repeating_a_rate_keeps_it(engine):
    day = dt.date(2026, 1, 5)
    store_rates(engine, [FxRate("EUR", Decimal("1.10"), day, "bundled")], 0, NOW)
    store_rates(engine, [FxRate("EUR", Decimal("1.10"), day, "ecb")], 2, NOW)
    stored = store_rates(engine, [FxRate("EUR", Decimal("1.25"), day, "inbox:x")], 1, NOW)
    assert stored.written == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.fx_rates.c.source, t.fx_rates.c.source_rank)).one()
    assert tuple(row) == ("ecb", 2)
