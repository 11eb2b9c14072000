"""The asset graph does not change by accident, and loads the ways operators load it."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from costsync_pipeline.definitions import defs as load_defs
from costsync_pipeline.paths import PROJECT_ROOT

BIN = Path(sys.executable).parent

EXPECTED = {
    "assets": [
        "cost_accuracy",
        "cost_snapshots",
        "fx_rates",
        "model_prices",
        "price_defaults",
        "price_feed",
        "price_inbox_files",
        "price_overrides",
        "raw_cloud_files",
        "raw_usage_files",
        "usage_costs",
    ],
    "checks": [
        "cost_accuracy:cost_within_tolerance",
        "cost_snapshots:billed_cost_conserved",
        "cost_snapshots:credits_not_positive",
        "cost_snapshots:rejection_rate_within_limit",
        "cost_snapshots:rows_accounted_for",
        "cost_snapshots:usd_value_known",
        "fx_rates:fx_feed_read",
        "model_prices:one_price_per_instant",
        "model_prices:prices_fresh",
        "price_defaults:default_read",
        "price_feed:feed_read",
        "price_inbox_files:inbox_read",
        "price_overrides:override_read",
        "raw_cloud_files:no_unreadable_files",
        "raw_usage_files:no_unreadable_files",
        "usage_costs:no_price",
        "usage_costs:rejection_rate_within_limit",
        "usage_costs:rows_accounted_for",
        "usage_costs:stored_rows_valid",
    ],
    "blocking_checks": [
        "cost_snapshots:billed_cost_conserved",
        "cost_snapshots:rows_accounted_for",
        "model_prices:one_price_per_instant",
        "usage_costs:rows_accounted_for",
        "usage_costs:stored_rows_valid",
    ],
    "jobs": [
        "__ASSET_JOB",
        "cloud_job",
        "cloud_set_aside_job",
        "prices_job",
        "usage_job",
        "usage_set_aside_job",
    ],
    "schedules": ["usage_daily_schedule"],
    "sensors": [
        "cloud_inbox_sensor",
        "price_refresh_sensor",
        "recost_sensor",
        "usage_inbox_sensor",
    ],
}


def snapshot() -> dict:
    repo = load_defs().get_repository_def()
    graph = repo.asset_graph
    checks = [graph.get(k) for k in graph.asset_check_keys]
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted(f"{c.key.asset_key.to_user_string()}:{c.key.name}" for c in checks),
        "blocking_checks": sorted(
            f"{c.key.asset_key.to_user_string()}:{c.key.name}" for c in checks if c.blocking
        ),
        "jobs": sorted(j.name for j in repo.get_all_jobs()),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


def test_graph_snapshot():
    assert snapshot() == EXPECTED


def test_assets_share_the_daily_utc_partitions():
    graph = load_defs().get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description
        if node.group_name == "prices":  # sources and tables of the whole history
            assert node.partitions_def is None
            continue
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.partitions_def.timezone == "UTC"
        assert node.group_name in {"usage", "cloud"}
        assert node.description


def _load(tmp_path, *command, **env_extra) -> subprocess.CompletedProcess:
    """Run a Dagster CLI from the project root with none of the caller's costsync settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTSYNC_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(tmp_path), **env_extra}
    return subprocess.run(
        [BIN / command[0], *command[1:]],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_loads_through_workspace_yaml(tmp_path):
    out = _load(tmp_path, "dagster", "definitions", "validate", "-w", "workspace.yaml")
    assert out.returncode == 0, out.stderr[-2000:]


def test_loads_through_dg(tmp_path):
    out = _load(tmp_path, "dg", "check", "defs")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "All definitions loaded successfully" in out.stdout + out.stderr


def test_malformed_database_url_fails_at_load_naming_the_variable(tmp_path):
    out = _load(
        tmp_path,
        "dagster",
        "definitions",
        "validate",
        "-w",
        "workspace.yaml",
        COSTSYNC_DATABASE_URL="mysql://nope",
    )
    assert out.returncode != 0
    assert "COSTSYNC_DATABASE_URL" in out.stdout + out.stderr
