"""Materializing the usage assets through Dagster, as the UI and the schedule do."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.defs.usage.assets import raw_usage_files, usage_costs
from costsync_pipeline.warehouse.tables import usage_costs as usage_table
from costsync_pipeline_tests.conftest import SAMPLE_USAGE, drop, write


def materialize(resources, *assets, partition_key=None, tags=None, instance=None):
    return dg.materialize(
        list(assets) or [raw_usage_files, usage_costs],
        partition_key=partition_key,
        resources=resources,
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=tags,
        raise_on_error=False,
    )


def usage_metadata(result) -> dict:
    """The usage_costs metadata (a range run records the same figures on each partition)."""
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("usage_costs")
    ]
    return {k: v.value for k, v in events[0].materialization.metadata.items()}


def test_partition_materializes_with_counts_and_checks(resources, inbox):
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    result = materialize(resources, partition_key="2026-11-19")
    assert result.success
    meta = usage_metadata(result)
    assert meta["dagster/row_count"] == meta["inserted"] > 0
    assert (
        meta["rows_read"]
        == meta["inserted"]
        + meta["rejected"]
        + meta["duplicates"]
        + (meta["superseded_by_later_file"])
    )
    assert "| file |" in meta["files"] and "| request_id |" in meta["preview"]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "no_unreadable_files": True,
        "rows_accounted_for": True,
        "rejection_rate_within_limit": True,
        "stored_rows_valid": True,
        "no_price": False,  # no prices were loaded in this test: every row is unpriced
    }
    again = usage_metadata(materialize(resources, partition_key="2026-11-19"))
    assert (again["inserted"], again["updated"]) == (0, 0)
    assert again["unchanged"] == meta["inserted"]
    assert again["total_cost_usd_exact"] == meta["total_cost_usd_exact"]


def test_single_run_backfill_of_a_range(resources, inbox):
    for f in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], f)
    result = materialize(
        resources,
        tags={
            "dagster/asset_partition_range_start": "2026-11-18",
            "dagster/asset_partition_range_end": "2026-11-21",
        },
    )
    assert result.success
    partitions = sorted(
        e.partition
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("usage_costs")
    )
    assert partitions == ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]
    meta = usage_metadata(result)
    assert meta["window"] == "2026-11-18 to 2026-11-21"
    assert "dagster/row_count" not in meta  # the range's total is not any one day's count
    assert meta["rows_in_window"] == 79
    assert "| 2026-11-19 | 21 |" in meta["rows_by_day"]


def test_rejection_rate_warns_without_blocking(resources, inbox):
    write(
        inbox[0],
        "bad.csv",
        "request_id,provider,model,timestamp,input_tokens\n"
        "r1,openai,gpt-4o,2026-11-20T10:00:00Z,-1\nr2,openai,gpt-4o,2026-11-20T10:00:00Z,5\n",
    )
    result = materialize(resources, partition_key="2026-11-20")
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["rejection_rate_within_limit"].passed is False
    assert checks["rejection_rate_within_limit"].severity == dg.AssetCheckSeverity.WARN


def test_blocking_check_stops_later_stages(resources, inbox, db_url):
    """A later stage never sees a partition whose stored rows break the rules."""
    drop(inbox[0], SAMPLE_USAGE / "team_usage.csv")
    assert materialize(resources, partition_key="2026-11-21").success
    engine = resources["warehouse"].get_engine()
    with engine.begin() as conn:  # a row written by hand, outside the pipeline
        conn.execute(
            sa.insert(usage_table).values(
                request_id="manual-1",
                source="manual",
                occurred_at=dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC),
                usage_date=dt.date(2026, 11, 21),
                provider="OpenAI ",
                model="gpt-4o",
                service_tier="standard",
                input_tokens=-5,
                cache_read_tokens=0,
                cache_write_tokens=0,
                output_tokens=1,
                reasoning_tokens=0,
                source_file="0" * 64,
                source_row=1,
                source_received_at=dt.datetime.now(dt.UTC),
                ingested_at=dt.datetime.now(dt.UTC),
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    seen = []

    @dg.asset(partitions_def=usage_costs.partitions_def, deps=[usage_costs])
    def later_stage(context: dg.AssetExecutionContext) -> None:
        seen.append(context.partition_key)

    result = materialize(
        resources, raw_usage_files, usage_costs, later_stage, partition_key="2026-11-21"
    )
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["stored_rows_valid"].passed is False
    meta = {k: v.value for k, v in checks["stored_rows_valid"].metadata.items()}
    assert meta["negative_tokens"] == 1 and meta["provider_or_model_not_normalized"] == 1
    assert seen == []
