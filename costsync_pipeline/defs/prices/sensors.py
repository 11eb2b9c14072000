"""Price sensors: refresh prices when they are stale or a price file lands, and re-cost the
usage days a price or FX change reached."""

import datetime as dt

import dagster as dg

from costsync_pipeline.defs.inbox_sensor import RANGE_END_TAG, RANGE_START_TAG
from costsync_pipeline.defs.prices.jobs import prices_job
from costsync_pipeline.defs.usage.jobs import usage_job
from costsync_pipeline.landing.price_sources import new_price_files
from costsync_pipeline.landing.prices import pending_recost_days
from costsync_pipeline.landing.recost import recost_runs
from costsync_pipeline.quality.prices import expected_sources, stale_sources
from costsync_pipeline.resources import InboxResource, PriceSourcesResource, WarehouseResource


@dg.sensor(
    job=prices_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refreshes prices and FX when a refreshed source is older than "
    "MODEL_COST_STALENESS_SECONDS (or was never read), and when a file lands in "
    "$COSTSYNC_INBOX/prices/.",
)
def price_refresh_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    inbox: InboxResource,
    prices: PriceSourcesResource,
) -> dg.SensorResult:
    engine, now = warehouse.get_engine(), dt.datetime.now(dt.UTC)
    requests = []
    expected = expected_sources(prices.feed_url, prices.fx_feed_url)
    stale = stale_sources(engine, now, prices.staleness_seconds, expected)
    if stale:
        # One request per staleness period: a failing feed is retried once a period, not on
        # every tick.
        bucket = int(now.timestamp()) // prices.staleness_seconds
        requests.append(
            dg.RunRequest(run_key=f"prices-stale:{bucket}", tags={"costsync/reason": "stale"})
        )
        context.log.info("stale price sources: %s", stale)
    files = new_price_files(engine, inbox.inbox_url)
    if files:
        requests.append(
            dg.RunRequest(
                run_key="prices-files:" + ",".join(sorted(f.checksum[:16] for f in files)),
                tags={"costsync/reason": "price files"},
            )
        )
    return dg.SensorResult(run_requests=requests)


@dg.sensor(
    job=usage_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests usage_costs runs for the days a price or FX change reached "
    "(pending_recosts), one run per contiguous range of days; landing a day answers them.",
)
def recost_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    pending = pending_recost_days(warehouse.get_engine())
    requests = []
    for run in recost_runs(pending):
        tags = {"costsync/reason": run.reason}
        if run.first == run.last:
            requests.append(dg.RunRequest(run_key=run.run_key, partition_key=run.first, tags=tags))
        else:
            tags |= {RANGE_START_TAG: run.first, RANGE_END_TAG: run.last}
            requests.append(dg.RunRequest(run_key=run.run_key, tags=tags))
    return dg.SensorResult(run_requests=requests)
