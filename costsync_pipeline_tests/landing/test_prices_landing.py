"""Price sources into the warehouse: offers, precedence, history, metadata and FX, on SQLite
and PostgreSQL."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from costsync_pipeline.landing.fx import load_bundled_rates, load_rates, store_rates
from costsync_pipeline.landing.price_sources import (
    load_defaults,
    load_feed,
    load_inbox_prices,
    load_overrides,
    new_price_files,
)
from costsync_pipeline.landing.prices import apply_offers, pending_recost_days, source_states
from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.quality.prices import one_price_per_instant, stale_sources
from costsync_pipeline.sources.fx import FxRate
from costsync_pipeline.transforms.price_history import BEGINNING
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline_tests.conftest import DEFAULT_PRICES, LITELLM_SNAPSHOT, NOW, write

LATER = NOW + dt.timedelta(days=1)


def prices(engine, **where) -> list[dict]:
    mp = t.model_prices
    query = sa.select(mp).order_by(mp.c.valid_from)
    for k, v in where.items():
        query = query.where(mp.c[k] == v)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def utc(value):
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def test_bundled_defaults_price_from_the_beginning_and_repeat_nothing(engine):
    read = load_defaults(engine, DEFAULT_PRICES, NOW)
    assert read.status == "ok" and read.models == 40 and not read.problems
    first = apply_offers(engine, NOW)
    assert first.opened == read.rows == 40 and first.closed == 0
    rows = prices(engine, provider="openai", model="gpt-4o")
    assert len(rows) == 1
    assert Decimal(str(rows[0]["input_per_mtok"])) == Decimal("2.5")
    assert utc(rows[0]["valid_from"]) == BEGINNING and rows[0]["valid_to"] is None
    assert rows[0]["source"] == "default:default_prices.json"
    # Read and applied again (a restart, the next day): nothing changes.
    load_defaults(engine, DEFAULT_PRICES, LATER)
    again = apply_offers(engine, LATER)
    assert (again.opened, again.closed, again.reopened) == (0, 0, 0)
    meta = source_states(engine)["default"]
    assert meta["status"] == "ok" and meta["model_count"] == 40
    assert meta["last_updated"] == dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def test_feed_outranks_defaults_from_when_it_is_seen(engine, tmp_path):
    # Defaults that differ from the feed on gpt-4o (the bundled file repeats the snapshot).
    doc = json.loads(DEFAULT_PRICES.read_text())
    (entry,) = [m for m in doc["providers"]["openai"] if m["model_id"] == "gpt-4o"]
    entry.update(input_cost_per_1m_tokens=3, output_cost_per_1m_tokens=12)
    defaults = tmp_path / "default_prices.json"
    defaults.write_text(json.dumps(doc))
    load_defaults(engine, defaults, NOW)
    apply_offers(engine, NOW)
    read = load_feed(engine, str(LITELLM_SNAPSHOT), LATER)
    assert read.status == "ok" and read.models == 4551
    apply_offers(engine, LATER)
    assert one_price_per_instant(engine).passed
    standard = prices(engine, provider="openai", model="gpt-4o", service_tier="standard")
    assert [
        (r["source"], utc(r["valid_from"]), r["valid_to"] and utc(r["valid_to"])) for r in standard
    ] == [
        ("default:default_prices.json", BEGINNING, LATER),
        ("feed:litellm", LATER, None),
    ]
    # The feed repeating a default's price changes nothing: the default's row stays.
    mini = prices(engine, provider="openai", model="gpt-4o-mini", service_tier="standard")
    assert [(r["source"], r["valid_to"]) for r in mini] == [("default:default_prices.json", None)]
    # A model only the feed knows is priced from the beginning of time.
    only_feed = prices(engine, provider="openai", model="gpt-4o-2024-08-06")
    assert only_feed and utc(only_feed[0]["valid_from"]) == BEGINNING


def test_a_shrunk_feed_is_refused_and_known_prices_stay(engine, tmp_path):
    load_feed(engine, str(LITELLM_SNAPSHOT), NOW)
    apply_offers(engine, NOW)
    before = len(prices(engine))
    doc = json.loads(LITELLM_SNAPSHOT.read_text())
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(dict(list(doc.items())[:1000])))
    read = load_feed(engine, str(truncated), LATER)
    assert read.status == "refused" and "shrank" in read.message
    apply_offers(engine, LATER)
    assert len(prices(engine)) == before
    meta = source_states(engine)["feed"]
    assert meta["status"] == "refused" and meta["model_count"] == 4551
    assert meta["fetched_at"] == NOW  # the age stays the age of the last good map
    assert stale_sources(engine, NOW + dt.timedelta(hours=5), 14400)["feed"].startswith(
        "last read 5.0 h ago"
    )


def test_feed_failure_is_recorded_not_raised(engine, tmp_path):
    read = load_feed(engine, str(tmp_path / "missing.json"), NOW, attempts=1)
    assert read.status == "failed" and "missing.json" in read.message
    assert "stay in force" in read.message
    assert source_states(engine)["feed"]["fetched_at"] is None
    assert "never read successfully" in stale_sources(engine, NOW, 14400)["feed"]
    off = load_feed(engine, "off", NOW)
    assert off.status == "off" and stale_sources(engine, NOW, 14400) == {}


def test_inbox_events_outrank_the_feed_and_land_once(engine, inbox):
    load_feed(engine, str(LITELLM_SNAPSHOT), NOW)
    apply_offers(engine, NOW)
    event = {
        "provider": "OpenAI",
        "model": "gpt-4o",
        "inputTokenCost": 0.000002,
        "outputTokenCost": 0.000008,
        "currency": "USD",
    }
    write(inbox[0], "update.json", json.dumps(event), mtime=LATER.timestamp(), kind="prices")
    write(inbox[0], "broken.json", "{not json", kind="prices")
    assert len(new_price_files(engine, inbox[0])) == 2
    read = load_inbox_prices(engine, inbox[0], inbox[1], LATER)
    assert (read.files, read.set_aside) == (1, 1)
    state = source_states(engine)["inbox"]
    assert state["status"] == "partial" and "set aside" in state["message"]
    assert (Path(inbox[0]) / "prices" / "failed" / "broken.json").exists()
    applied = apply_offers(engine, LATER)
    assert applied.opened == 1 and applied.closed == 1
    rows = prices(engine, provider="openai", model="gpt-4o", service_tier="standard")
    current = [r for r in rows if not r["valid_to"]]
    assert [(r["source"], Decimal(str(r["input_per_mtok"]))) for r in current] == [
        ("inbox:update.json", Decimal("2"))
    ]
    # The same content again (renamed) is not read twice; the feed does not override it.
    write(inbox[0], "again.json", json.dumps(event), kind="prices")
    assert new_price_files(engine, inbox[0]) == []
    assert load_inbox_prices(engine, inbox[0], inbox[1], LATER).files == 0
    load_feed(engine, str(LITELLM_SNAPSHOT), LATER + dt.timedelta(days=1))
    assert apply_offers(engine, LATER + dt.timedelta(days=1)).opened == 0


def test_overrides_dated_in_the_past_correct_history(engine, tmp_path):
    load_defaults(engine, DEFAULT_PRICES, NOW)
    apply_offers(engine, NOW)
    overrides = tmp_path / "price_overrides.json"
    overrides.write_text(
        json.dumps(
            {
                "providers": {
                    "openai": [
                        {
                            "model_id": "gpt-4o",
                            "input_cost_per_1m_tokens": 2,
                            "output_cost_per_1m_tokens": 8,
                            "valid_from": "2026-06-01T00:00:00Z",
                        }
                    ]
                }
            }
        )
    )
    read = load_overrides(engine, overrides, LATER)
    assert read.status == "ok" and read.rows == 1
    apply_offers(engine, LATER)
    rows = prices(engine, provider="openai", model="gpt-4o")
    june = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert [
        (r["source"], utc(r["valid_from"]), r["valid_to"] and utc(r["valid_to"])) for r in rows
    ] == [
        ("default:default_prices.json", BEGINNING, june),
        ("override:price_overrides.json", june, None),
    ]
    # A broken overrides file keeps the overrides in force.
    overrides.write_text("{")
    assert load_overrides(engine, overrides, LATER).status == "failed"
    assert apply_offers(engine, LATER).opened == 0
    # No file: no overrides; the defaults' price returns from when that is seen.
    overrides.unlink()
    assert load_overrides(engine, overrides, LATER).status == "missing"


def test_fx_ranks_and_latest_on_or_before(engine):
    stored = load_bundled_rates(engine, DATA_DIR / "fx" / "rates.csv", NOW)
    assert stored.written == 32
    rates = load_rates(engine)
    zar = rates[rates["currency"] == "ZAR"].sort_values("as_of_date")
    assert list(zar["as_of_date"].astype(str)) == ["2025-05-09", "2026-01-07"]
    # A price file's usd_to_zar for a day the bundled file also gives outranks it; the
    # bundled file read again does not take it back.
    day = dt.date(2026, 1, 7)
    again = store_rates(engine, [FxRate("ZAR", Decimal("0.05"), day, "inbox:x")], 1, NOW)
    assert again.written == 1 and again.changed_from == {"ZAR": day}
    assert load_bundled_rates(engine, DATA_DIR / "fx" / "rates.csv", LATER).written == 0
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(t.fx_rates.c.source).where(
                t.fx_rates.c.currency == "ZAR", t.fx_rates.c.as_of_date == day
            )
        ).scalar_one()
    assert kept == "inbox:x"
    assert pending_recost_days(engine) == []  # no usage in another currency yet


def test_fx_feed_and_a_price_files_usd_to_zar_become_rates(engine, inbox, tmp_path):
    from costsync_pipeline.landing.fx import RANK, load_fx_feed

    status, message, stored = load_fx_feed(engine, str(DATA_DIR / "fx" / "ecb_sample.xml"), NOW)
    assert (status, message) == ("ok", None) and stored.written == 31
    with engine.connect() as conn:
        eur = conn.execute(
            sa.select(t.fx_rates.c.rate_to_usd, t.fx_rates.c.source_rank).where(
                t.fx_rates.c.currency == "EUR"
            )
        ).one()
    # SQLite keeps NUMERIC as a double: exact on PostgreSQL, to 1e-12 on SQLite.
    assert abs(Decimal(str(eur[0])) - Decimal("1.1252")) < Decimal("1e-12")
    assert eur[1] == RANK["feed"]
    failed = load_fx_feed(engine, str(tmp_path / "gone.xml"), NOW, attempts=1)
    assert failed[0] == "failed" and "gone.xml" in failed[1]
    assert source_states(engine)["fx:feed"]["fetched_at"] == NOW  # the last good read
    assert load_fx_feed(engine, None, NOW)[0] == "off"
    doc = {
        "last_updated": "2026-01-07T10:00:00Z",
        "usd_to_zar": 18.45,
        "providers": {
            "openai": [
                {
                    "model_id": "gpt-4o",
                    "input_cost_per_1m_tokens": 2.5,
                    "output_cost_per_1m_tokens": 10,
                }
            ]
        },
    }
    write(inbox[0], "ai_costs.json", json.dumps(doc), kind="prices")
    read = load_inbox_prices(engine, inbox[0], inbox[1], NOW)
    assert [(r.currency, r.as_of_date) for r in read.fx] == [("ZAR", dt.date(2026, 1, 7))]
    assert read.fx[0].rate_to_usd == (Decimal(1) / Decimal("18.45")).quantize(Decimal("1e-18"))
