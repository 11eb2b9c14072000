"""The cloud stage through Dagster: the inbox sensor's range runs, and materializing a range."""

from __future__ import annotations

import csv
import io

import dagster as dg

from costsync_pipeline.defs.cloud.assets import cost_snapshots, raw_cloud_files
from costsync_pipeline.defs.cloud.sensors import cloud_inbox_sensor
from costsync_pipeline.defs.inbox_sensor import RANGE_END_TAG, RANGE_START_TAG
from costsync_pipeline_tests.conftest import AWS_CUR, AZURE_EA, GPU_EXPORT, RECEIVED, drop, write


def tick(resources, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), cursor=cursor, resources=resources
    ) as context:
        return cloud_inbox_sensor(context)


def ranges(result: dg.SensorResult) -> list[tuple]:
    return sorted(
        (r.tags.get(RANGE_START_TAG, r.partition_key), r.tags.get(RANGE_END_TAG, r.partition_key))
        for r in result.run_requests
        if r.job_name == "cloud_job"
    )


def materialize_range(resources, first: str, last: str):
    return dg.materialize(
        [raw_cloud_files, cost_snapshots],
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        raise_on_error=False,
    )


def test_sensor_requests_one_run_per_range_of_days(resources, inbox):
    drop(inbox[0], AWS_CUR, mtime=RECEIVED, kind="cloud")
    drop(inbox[0], AZURE_EA, mtime=RECEIVED, kind="cloud")
    write(inbox[0], "empty.csv", b"", mtime=RECEIVED, kind="cloud")
    result = tick(resources)
    assert ranges(result) == [("2023-09-02", "2023-09-02"), ("2023-11-01", "2023-11-14")]
    for r in result.run_requests:
        prefix = "cloud:" if r.job_name == "cloud_job" else "cloud-set-aside:"
        assert r.run_key.startswith(prefix)
    (aside,) = [r for r in result.run_requests if r.job_name == "cloud_set_aside_job"]
    files = aside.run_config["ops"]["set_aside_cloud_files"]["config"]["files"]
    assert [f["path"].rsplit("/", 1)[1] for f in files] == ["empty.csv"]
    assert tick(resources, result.cursor).run_requests == []


def test_materializing_a_range_lands_it_with_checks(resources, inbox):
    drop(inbox[0], AWS_CUR, mtime=RECEIVED, kind="cloud")
    drop(inbox[0], GPU_EXPORT, mtime=RECEIVED, kind="cloud")
    result = materialize_range(resources, "2023-11-01", "2023-11-14")
    assert result.success
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("cost_snapshots")
    ]
    assert len(events) == 14  # one per partition of the range
    meta = {k: v.value for k, v in events[0].materialization.metadata.items()}
    assert meta["line_items_read"] == 1281 and meta["line_items_rejected"] == 0
    assert meta["billed_cost_read"] == meta["billed_cost_landed"] == "1.68230869740"
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "no_unreadable_files": True,
        "rows_accounted_for": True,
        "billed_cost_conserved": True,
        "rejection_rate_within_limit": True,
        "usd_value_known": True,
        "credits_not_positive": True,
    }
    # The GPU export's days were not in the range: nothing of it landed.
    assert "gpu_cost_export.json" not in meta["files"]


def test_reissued_export_asks_for_the_days_of_the_earlier_one(resources, inbox):
    with AWS_CUR.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    drop(inbox[0], AWS_CUR, mtime=RECEIVED - 600, kind="cloud")
    assert materialize_range(resources, "2023-11-01", "2023-11-14").success
    # The re-issue has only the first week: its run must still cover the second week.
    early = [r for r in rows if r["lineItem/UsageStartDate"] < "2023-11-08"]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(early)
    write(inbox[0], "cur-reissued.csv", out.getvalue(), mtime=RECEIVED, kind="cloud")
    assert ranges(tick(resources)) == [("2023-11-01", "2023-11-14")]
