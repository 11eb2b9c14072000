"""Usage costed as it lands, re-costed after a price change with every change audited, FX
held when no rate is known, and cost_accuracy; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from costsync_pipeline.landing.accuracy import build_cost_accuracy
from costsync_pipeline.landing.fx import load_bundled_rates
from costsync_pipeline.landing.price_sources import load_defaults, load_feed, load_overrides
from costsync_pipeline.landing.prices import apply_offers, pending_recost_days
from costsync_pipeline.landing.recost import affected_usage_days, recost_runs
from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.quality.prices import cost_within_tolerance
from costsync_pipeline.quality.usage import priced
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline_tests.conftest import DEFAULT_PRICES, LITELLM_SNAPSHOT, NOW, write
from costsync_pipeline_tests.landing.test_usage_landing import land

DAY = dt.date(2026, 11, 19)
MTOK = Decimal(1_000_000)


def record(request_id, model="gpt-4o", provider="openai", **extra) -> dict:
    base = {
        "request_id": request_id,
        "provider": provider,
        "model": model,
        "input_tokens": 1000,
        "output_tokens": 500,
        "cache_read_tokens": 200,
        "cache_write_tokens": 0,
        "timestamp": "2026-11-19T12:00:00Z",
    }
    return base | extra


def drop_records(inbox, name, records):
    write(inbox[0], name, json.dumps({"records": records}), mtime=NOW.timestamp() - 3600)


def usage(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.usage_costs)).mappings().all()
    return {r["request_id"]: dict(r) for r in rows}


def audit(engine) -> list[dict]:
    with engine.connect() as conn:
        query = sa.select(t.cost_audit_log).order_by(t.cost_audit_log.c.entity_key)
        return [dict(r) for r in conn.execute(query).mappings()]


def dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def prepare_prices(engine, now=NOW):
    load_defaults(engine, DEFAULT_PRICES, now)
    load_feed(engine, str(LITELLM_SNAPSHOT), now)
    load_bundled_rates(engine, DATA_DIR / "fx" / "rates.csv", now)
    return apply_offers(engine, now, affected_usage_days)


def test_rows_are_costed_at_event_time_with_status(engine, inbox):
    prepare_prices(engine)
    drop_records(
        inbox,
        "costed.json",
        [
            record("computed"),
            record("reported", cost="0.5", currency="USD"),
            record("unknown-model", model="no-such-model-xyz"),
            record("zar", cost="18.45", currency="ZAR"),
            record("no-rate", cost="100", currency="KES"),
        ],
    )
    land(engine, inbox)
    rows = usage(engine)
    gpt4o = (Decimal(1000) * Decimal("2.5") + 200 * Decimal("1.25") + 500 * Decimal(10)) / MTOK
    assert dec(rows["computed"]["computed_cost_usd"]) == gpt4o
    assert dec(rows["computed"]["cost_usd"]) == gpt4o
    assert rows["computed"]["cost_status"] == "computed"
    assert rows["computed"]["price_status"] == "priced" and rows["computed"]["price_version"]
    assert rows["reported"]["cost_status"] == "reported"
    assert dec(rows["reported"]["cost_usd"]) == Decimal("0.5")
    assert dec(rows["reported"]["computed_cost_usd"]) == gpt4o
    unknown = rows["unknown-model"]
    assert (unknown["price_status"], unknown["cost_status"]) == ("no_price", "no_price")
    assert unknown["computed_cost_usd"] is None and unknown["cost_usd"] is None
    # ZAR at the latest rate on or before the day (seed 002's 18.45 of 2026-01-07).
    assert abs(dec(rows["zar"]["reported_cost_usd"]) - Decimal(1)) < Decimal("1e-11")
    assert rows["zar"]["cost_status"] == "reported"
    held = rows["no-rate"]
    assert (held["cost_status"], held["reported_cost_usd"], held["cost_usd"]) == (
        "no_fx_rate",
        None,
        None,
    )
    check = priced(engine, DAY, DAY + dt.timedelta(days=1))
    assert not check.passed and check.metadata["requests_without_price"] == 1
    assert "openai/no-such-model-xyz (1)" in check.metadata["top_unpriced_models"]
    with engine.connect() as conn:
        view = conn.execute(sa.text("SELECT provider, model, requests FROM unpriced_models")).all()
    assert [tuple(r) for r in view] == [("openai", "no-such-model-xyz", 1)]
    assert audit(engine) == []  # first landing: nothing changed


def test_a_past_correction_recosts_the_days_it_reaches_and_audits(engine, inbox, tmp_path):
    prepare_prices(engine)
    drop_records(
        inbox,
        "two-days.json",
        [
            record("before", timestamp="2026-11-18T10:00:00Z"),
            record("after", timestamp="2026-11-19T12:00:00Z"),
            record("reported-after", timestamp="2026-11-19T13:00:00Z", cost="0.01"),
            record("other-model", model="gpt-4o-mini", timestamp="2026-11-19T12:00:00Z"),
        ],
    )
    land(engine, inbox)
    old = usage(engine)
    overrides = tmp_path / "price_overrides.json"
    overrides.write_text(
        json.dumps(
            {
                "valid_from": "2026-11-19T00:00:00Z",
                "providers": {
                    "openai": [
                        {
                            "model_id": "gpt-4o",
                            "input_cost_per_1m_tokens": 2,
                            "output_cost_per_1m_tokens": 8,
                            "cache_read_cost_per_1m_tokens": 1,
                        }
                    ]
                },
            }
        )
    )
    later = NOW + dt.timedelta(hours=1)
    load_overrides(engine, overrides, later)
    applied = apply_offers(engine, later, affected_usage_days)
    assert applied.recost_days == [DAY]
    pending = pending_recost_days(engine)
    assert [p["usage_date"] for p in pending] == [DAY] or [
        pd.Timestamp(p["usage_date"]).date() for p in pending
    ] == [DAY]
    runs = recost_runs(pending)
    assert [(r.first, r.last) for r in runs] == [("2026-11-19", "2026-11-19")]
    # The re-cost: the day is landed again from the raw zone.
    land(engine, inbox, DAY, DAY + dt.timedelta(days=1), now=later)
    new = usage(engine)
    corrected = (Decimal(1000) * 2 + 200 * Decimal(1) + 500 * Decimal(8)) / MTOK
    assert dec(new["after"]["computed_cost_usd"]) == corrected == dec(new["after"]["cost_usd"])
    assert new["before"] == old["before"]  # before the correction's valid_from
    assert dec(new["other-model"]["cost_usd"]) == dec(old["other-model"]["cost_usd"])
    entries = audit(engine)
    assert [e["entity_key"] for e in entries] == ["after", "reported-after"]
    after = entries[0]
    assert after["entity"] == "usage_costs" and after["run_id"] == "test"
    assert dec(after["old_cost_usd"]) == dec(old["after"]["cost_usd"])
    assert dec(after["new_cost_usd"]) == corrected
    assert after["reason"].startswith("price change: ")
    assert old["after"]["price_version"] in after["reason"]
    # The reported cost stays the cost of record; the computed one changed and is audited.
    reported = entries[1]
    assert dec(reported["old_cost_usd"]) == dec(reported["new_cost_usd"]) == Decimal("0.01")
    assert dec(reported["new_value"]) == dec(new["reported-after"]["computed_cost_usd"])
    assert pending_recost_days(engine) == []
    # Re-running changes and audits nothing more.
    land(engine, inbox, DAY, DAY + dt.timedelta(days=1), now=later + dt.timedelta(hours=1))
    assert len(audit(engine)) == 2


def test_cost_accuracy_compares_reported_and_computed(engine, inbox):
    prepare_prices(engine)
    gpt4o = (Decimal(1000) * Decimal("2.5") + 200 * Decimal("1.25") + 500 * Decimal(10)) / MTOK
    drop_records(
        inbox,
        "accuracy.json",
        [
            record("exact", cost=str(gpt4o)),
            record("close", cost=str(gpt4o * Decimal("1.005"))),
            record("computed-only"),
            record("far", model="gpt-4o-mini", cost="1.00"),
        ],
    )
    land(engine, inbox)
    rows = build_cost_accuracy(engine, DAY, DAY + dt.timedelta(days=1), Decimal("0.01"), NOW)
    by_model = {r["model"]: r for r in rows}
    gpt = by_model["gpt-4o"]
    assert (gpt["requests"], gpt["compared_requests"]) == (3, 2)
    assert gpt["reported_cost_usd"] == (gpt4o * Decimal("2.005")).quantize(Decimal("1e-12"))
    assert gpt["computed_cost_usd"] == (gpt4o * 2).quantize(Decimal("1e-12"))
    assert gpt["within_tolerance"] is True
    assert by_model["gpt-4o-mini"]["within_tolerance"] is False
    check = cost_within_tolerance(rows)
    assert not check.passed and check.metadata["breaches"] == 1
    assert "openai/gpt-4o-mini" in check.metadata["worst_breaches"]
    # Stored, and replaced (not added to) by a second build.
    build_cost_accuracy(engine, DAY, DAY + dt.timedelta(days=1), Decimal("0.001"), NOW)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(t.cost_accuracy)).mappings().all()
    assert len(stored) == 2
    assert {r["model"]: r["within_tolerance"] for r in stored}["gpt-4o"] is False


def test_a_new_fx_rate_recosts_the_days_it_converts_and_says_so(engine, inbox):
    from costsync_pipeline.landing.fx import store_rates
    from costsync_pipeline.sources.fx import FxRate

    prepare_prices(engine)
    drop_records(
        inbox,
        "fx.json",
        [
            record("zar", cost="20", currency="ZAR"),
            record("kes", cost="100", currency="KES", timestamp="2026-11-18T10:00:00Z"),
        ],
    )
    land(engine, inbox)
    assert usage(engine)["kes"]["cost_status"] == "no_fx_rate"
    later = NOW + dt.timedelta(hours=1)
    rates = [
        FxRate("ZAR", Decimal("0.05"), dt.date(2026, 11, 1), "ecb"),
        FxRate("KES", Decimal("0.0077"), dt.date(2026, 11, 1), "ecb"),
    ]
    stored = store_rates(engine, rates, 2, later)
    assert stored.recost_days == [dt.date(2026, 11, 18), DAY]
    land(engine, inbox, now=later)
    rows = usage(engine)
    assert dec(rows["zar"]["cost_usd"]) == Decimal("1.00")
    assert dec(rows["kes"]["cost_usd"]) == Decimal("0.77")
    assert rows["kes"]["cost_status"] == "reported"
    reasons = {e["entity_key"]: e["reason"] for e in audit(engine)}
    assert reasons == {
        "kes": "FX rate change: the reported cost converts to a different USD amount",
        "zar": "FX rate change: the reported cost converts to a different USD amount",
    }
    assert pending_recost_days(engine) == []
