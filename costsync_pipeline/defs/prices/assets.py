"""Price stage: each price source is an asset, ``model_prices`` combines them, ``fx_rates``
holds the exchange rates, and ``cost_accuracy`` compares reported with computed cost."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import dagster as dg
from pydantic import Field

from costsync_pipeline.defs.raw_files import window
from costsync_pipeline.defs.resources import current_settings
from costsync_pipeline.defs.usage.assets import usage_costs
from costsync_pipeline.defs.usage.checks import check_results
from costsync_pipeline.landing.accuracy import DEFAULT_TOLERANCE, build_cost_accuracy
from costsync_pipeline.landing.fx import load_bundled_rates, load_fx_feed
from costsync_pipeline.landing.price_sources import (
    SourceRead,
    load_defaults,
    load_feed,
    load_inbox_prices,
    load_overrides,
)
from costsync_pipeline.landing.prices import apply_offers
from costsync_pipeline.landing.recost import affected_usage_days
from costsync_pipeline.partitions import daily_partitions
from costsync_pipeline.paths import DATA_DIR
from costsync_pipeline.quality import prices as q
from costsync_pipeline.resources import InboxResource, PriceSourcesResource, WarehouseResource

DEFAULT_PRICES = DATA_DIR / "prices" / "default_prices.json"
BUNDLED_FX = DATA_DIR / "fx" / "rates.csv"
GROUP = "prices"
# How old a refreshed source may get before the UI calls it stale: the operator's setting
# (read once, by defs/resources.py, like every variable).
STALENESS = dt.timedelta(seconds=current_settings().staleness_seconds)
REFRESHED = dg.FreshnessPolicy.time_window(fail_window=2 * STALENESS, warn_window=STALENESS)


def _read_result(read: SourceRead, engine, now) -> dg.MaterializeResult:
    outcome = q.source_read(read.source, read.status, read.message)
    age = q.source_ages(engine, now).get(read.source)
    return dg.MaterializeResult(
        metadata={
            "status": read.status,
            "message": read.message or "",
            "price_rows": read.rows,
            "models": read.models,
            "problems": len(read.problems),
            "first_problems": "; ".join(read.problems[:5]) or "none",
            "age_seconds": -1 if age is None else round(age, 1),  # -1: never read
            "fx_rates_from_file": len(read.fx),
        },
        check_results=check_results([outcome]),
    )


def _read_check(source: str, asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        f"{source}_read",
        asset=asset,
        blocking=False,
        description=f"The {source} source was read; on failure the known prices stay.",
    )


@dg.asset(group_name=GROUP, kinds={"json"}, check_specs=[_read_check("default", "price_defaults")])
def price_defaults(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The bundled default prices (``data/prices/default_prices.json``, seed 002's shape):
    current OpenAI, Anthropic, Google and Cohere models, so a fresh install prices common
    traffic with no network. Lowest precedence."""
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    return _read_result(load_defaults(engine, DEFAULT_PRICES, now), engine, now)


@dg.asset(
    group_name=GROUP,
    kinds={"json"},
    freshness_policy=REFRESHED,
    check_specs=[_read_check("feed", "price_feed")],
)
def price_feed(warehouse: WarehouseResource, prices: PriceSourcesResource) -> dg.MaterializeResult:
    """LiteLLM's model price map (``COSTSYNC_PRICE_FEED_URL``). An empty, malformed or
    more-than-half-shrunk map is refused; with no network the failure is a failed check and
    the run goes on with the prices already known."""
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    return _read_result(load_feed(engine, prices.feed_url, now), engine, now)


@dg.asset(
    group_name=GROUP,
    kinds={"file"},
    check_specs=[_read_check("inbox", "price_inbox_files")],
)
def price_inbox_files(warehouse: WarehouseResource, inbox: InboxResource) -> dg.MaterializeResult:
    """Price files (seed 002's shape) and model-cost-update events (seed 000's shape) dropped
    in ``$COSTSYNC_INBOX/prices/``; each file lands once, by checksum."""
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    read = load_inbox_prices(engine, inbox.inbox_url, inbox.raw_zone_url, now)
    return _read_result(read, engine, now)


@dg.asset(
    group_name=GROUP,
    kinds={"json"},
    check_specs=[_read_check("override", "price_overrides")],
)
def price_overrides(
    warehouse: WarehouseResource, prices: PriceSourcesResource
) -> dg.MaterializeResult:
    """Negotiated prices from the local overrides file (``COSTSYNC_PRICE_OVERRIDES``, seed
    002's shape with optional cache rates, tiers and ``valid_from``). Highest precedence."""
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    path = Path(prices.overrides_path) if prices.overrides_path else None
    return _read_result(load_overrides(engine, path, now), engine, now)


@dg.asset(
    group_name=GROUP,
    kinds={"sql"},
    deps=[price_defaults, price_feed, price_inbox_files, price_overrides],
    check_specs=[
        dg.AssetCheckSpec(
            "one_price_per_instant",
            asset="model_prices",
            blocking=True,
            description="At most one valid row per key at any instant.",
        ),
        dg.AssetCheckSpec(
            "prices_fresh",
            asset="model_prices",
            blocking=False,
            description="Every refreshed source was read within MODEL_COST_STALENESS_SECONDS.",
        ),
    ],
)
def model_prices(
    warehouse: WarehouseResource, prices: PriceSourcesResource
) -> dg.MaterializeResult:
    """Effective-dated price history from every source's offers: overrides > inbox files
    and events > feed > bundled defaults. A repeated price changes nothing; a change closes
    the old row and opens a new one; a price that reaches into the past queues the usage
    days it changes for re-costing (``pending_recosts``, picked up by ``recost_sensor``)."""
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    applied = apply_offers(engine, now, affected_usage_days)
    days = applied.recost_days
    return dg.MaterializeResult(
        metadata={
            "versions_opened": applied.opened,
            "versions_closed": applied.closed,
            "versions_reopened": applied.reopened,
            "keys_changed": len(applied.changed_from),
            "recost_days": len(days),
            "recost_range": f"{days[0]} .. {days[-1]}" if days else "none",
        },
        check_results=check_results(
            [
                q.one_price_per_instant(engine),
                q.prices_fresh(
                    engine,
                    now,
                    prices.staleness_seconds,
                    q.expected_sources(prices.feed_url, prices.fx_feed_url),
                ),
            ]
        ),
    )


@dg.asset(
    group_name=GROUP,
    kinds={"sql"},
    freshness_policy=REFRESHED,
    check_specs=[_read_check("fx_feed", "fx_rates")],
)
def fx_rates(warehouse: WarehouseResource, prices: PriceSourcesResource) -> dg.MaterializeResult:
    """Daily FX rates (USD per unit): the bundled ``data/fx/rates.csv``, the optional
    ECB-format feed (``COSTSYNC_FX_FEED_URL``) and price files' ``usd_to_zar``. A day's rate
    is the latest on or before it; a changed past rate queues re-costing."""
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    bundled = load_bundled_rates(engine, BUNDLED_FX, now)
    status, message, fed = load_fx_feed(engine, prices.fx_feed_url, now)
    days = sorted(set(bundled.recost_days) | set(fed.recost_days))
    return dg.MaterializeResult(
        metadata={
            "bundled_rates_written": bundled.written,
            "feed_status": status,
            "feed_message": message or "",
            "feed_rates_written": fed.written,
            "recost_days": len(days),
        },
        check_results=check_results([q.source_read("fx_feed", status, message)]),
    )


class CostAccuracyConfig(dg.Config):
    tolerance: float = Field(
        default=float(DEFAULT_TOLERANCE),
        description="Largest accepted |computed - reported| / reported (0.01 = 1%).",
    )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="usage",
    kinds={"sql"},
    deps=[usage_costs],
    check_specs=[
        dg.AssetCheckSpec(
            "cost_within_tolerance",
            asset="cost_accuracy",
            blocking=False,
            description="Computed cost within the tolerance of reported cost per day/model.",
        )
    ],
)
def cost_accuracy(
    context: dg.AssetExecutionContext, config: CostAccuracyConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Reported against computed cost per UTC day, provider and model (seed 004's
    validation); ``within_tolerance`` uses the configured tolerance (default 1%)."""
    engine, (start, end) = warehouse.get_engine(), window(context)
    tolerance = Decimal(str(config.tolerance))
    rows = build_cost_accuracy(engine, start, end, tolerance, dt.datetime.now(dt.UTC))
    return dg.MaterializeResult(
        metadata={"rows": len(rows), "tolerance": float(tolerance)},
        check_results=check_results([q.cost_within_tolerance(rows)]),
    )
