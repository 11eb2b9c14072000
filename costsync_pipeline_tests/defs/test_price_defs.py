"""The price assets, their checks, and the refresh and re-cost sensors, through Dagster."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.defs.prices.assets import (
    cost_accuracy,
    fx_rates,
    model_prices,
    price_defaults,
    price_feed,
    price_inbox_files,
    price_overrides,
)
from costsync_pipeline.defs.prices.sensors import price_refresh_sensor, recost_sensor
from costsync_pipeline.defs.usage.assets import raw_usage_files, usage_costs
from costsync_pipeline.landing.prices import queue_recosts
from costsync_pipeline.resources import PriceSourcesResource
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.engine import make_engine
from costsync_pipeline_tests.conftest import NOW, SAMPLE_USAGE, drop, write

PRICE_ASSETS = [
    price_defaults,
    price_feed,
    price_inbox_files,
    price_overrides,
    model_prices,
    fx_rates,
]


def materialize(resources, assets, partition_key=None):
    return dg.materialize(
        assets,
        partition_key=partition_key,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def metadata(result, asset: str) -> dict:
    for e in result.get_asset_materialization_events():
        if e.asset_key == dg.AssetKey(asset):
            return {k: v.value for k, v in e.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def test_price_assets_materialize_with_checks(resources):
    result = materialize(resources, PRICE_ASSETS)
    assert result.success
    assert checks(result) == {
        "default_read": True,
        "feed_read": True,
        "inbox_read": True,
        "override_read": True,
        "fx_feed_read": True,
        "one_price_per_instant": True,
        "prices_fresh": True,
    }
    # Each source shows its age in the UI (-1: never read, as an absent overrides file).
    assert 0 <= metadata(result, "price_feed")["age_seconds"] < 60
    assert metadata(result, "price_overrides")["age_seconds"] == -1
    opened = metadata(result, "model_prices")["versions_opened"]
    assert opened > 5000
    assert metadata(result, "price_feed")["models"] == 4551
    assert metadata(result, "fx_rates")["bundled_rates_written"] == 32
    again = materialize(resources, PRICE_ASSETS)
    assert metadata(again, "model_prices")["versions_opened"] == 0
    assert metadata(again, "price_feed")["status"] == "unchanged"


def test_an_unreachable_feed_fails_its_check_not_the_run(resources):
    settings = {**resources["prices"].model_dump(), "feed_url": "http://127.0.0.1:9/map.json"}
    offline = PriceSourcesResource(**settings)
    result = materialize({**resources, "prices": offline}, PRICE_ASSETS)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["feed_read"].passed
    assert evaluations["feed_read"].severity == dg.AssetCheckSeverity.WARN
    message = evaluations["feed_read"].metadata["message"].value
    assert "127.0.0.1:9" in message and "stay in force" in message
    assert not evaluations["prices_fresh"].passed  # never read: stale
    assert metadata(result, "model_prices")["versions_opened"] == 40  # the defaults


def test_usage_partition_is_costed_and_compared(resources, inbox):
    assert materialize(resources, PRICE_ASSETS).success
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    result = materialize(
        resources, [raw_usage_files, usage_costs, cost_accuracy], partition_key="2026-11-19"
    )
    assert result.success
    assert {"no_price", "cost_within_tolerance"} <= set(checks(result))
    engine = make_engine(resources["warehouse"].database_url)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(
                sa.select(t.usage_costs.c.cost_status, sa.func.count()).group_by(
                    t.usage_costs.c.cost_status
                )
            ).all()
        )
        accuracy = conn.execute(sa.select(sa.func.count()).select_from(t.cost_accuracy))
        assert accuracy.scalar_one() > 0
    assert statuses.get("reported", 0) > 0 and None not in statuses


def sensor_tick(sensor, resources) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), resources=resources
    ) as context:
        return sensor(context)


def test_recost_sensor_requests_contiguous_ranges(resources, engine):
    days = [dt.date(2026, 11, d) for d in (1, 2, 3, 7)]
    with engine.begin() as conn:
        queue_recosts(conn, days, "price change", NOW)
    result = sensor_tick(recost_sensor, resources)
    requests = sorted(result.run_requests, key=lambda r: r.run_key)
    assert len(requests) == 2
    ranged, single = requests
    assert ranged.tags["dagster/asset_partition_range_start"] == "2026-11-01"
    assert ranged.tags["dagster/asset_partition_range_end"] == "2026-11-03"
    assert single.partition_key == "2026-11-07"
    # The same pending requests give the same run keys (Dagster runs each once).
    again = sensor_tick(recost_sensor, resources)
    assert sorted(r.run_key for r in again.run_requests) == [r.run_key for r in requests]


def test_refresh_sensor_asks_when_stale_or_a_price_file_lands(resources, inbox):
    first = sensor_tick(price_refresh_sensor, resources)
    assert [r.tags["costsync/reason"] for r in first.run_requests] == ["stale"]
    assert materialize(resources, PRICE_ASSETS).success
    assert sensor_tick(price_refresh_sensor, resources).run_requests == []
    event = {
        "provider": "openai",
        "model": "gpt-4o",
        "inputTokenCost": 1e-6,
        "outputTokenCost": 4e-6,
    }
    write(inbox[0], "event.json", json.dumps(event), kind="prices")
    after = sensor_tick(price_refresh_sensor, resources)
    assert [r.tags["costsync/reason"] for r in after.run_requests] == ["price files"]


def test_refreshed_sources_carry_a_freshness_policy_from_the_staleness_setting():
    for asset in (price_feed, fx_rates):
        policy = asset.specs_by_key[asset.key].freshness_policy
        assert policy is not None
        warn, fail = policy.warn_window, policy.fail_window
        assert (warn.days * 86400 + warn.seconds, fail.days * 86400 + fail.seconds) == (
            14400,  # the default MODEL_COST_STALENESS_SECONDS
            28800,
        )


def test_cost_accuracy_tolerance_is_run_config(resources, inbox):
    assert materialize(resources, PRICE_ASSETS).success
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    assets = [raw_usage_files, usage_costs, cost_accuracy]
    strict = materialize(resources, assets, partition_key="2026-11-19")
    loose = dg.materialize(
        assets,
        partition_key="2026-11-19",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"cost_accuracy": {"config": {"tolerance": 10.0}}}},
    )
    assert metadata(strict, "cost_accuracy")["tolerance"] == 0.01
    assert metadata(loose, "cost_accuracy")["tolerance"] == 10.0
    assert not checks(strict)["cost_within_tolerance"]  # the samples' made-up costs
    assert checks(loose)["cost_within_tolerance"]
