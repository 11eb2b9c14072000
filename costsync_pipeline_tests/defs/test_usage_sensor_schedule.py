"""The inbox sensor's run requests and cursor, and the daily schedule."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from costsync_pipeline.defs.usage.schedules import usage_daily_schedule
from costsync_pipeline.defs.usage.sensors import usage_inbox_sensor
from costsync_pipeline_tests.conftest import RECEIVED, SAMPLE_USAGE, drop, write


def tick(resources, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), cursor=cursor, resources=resources
    ) as context:
        return usage_inbox_sensor(context)


def test_requests_exactly_the_days_of_the_rows(resources, inbox):
    drop(inbox[0], SAMPLE_USAGE / "gateway_export.json")
    result = tick(resources)
    assert sorted(r.partition_key for r in result.run_requests) == [
        "2026-11-18",
        "2026-11-19",
        "2026-11-20",
    ]
    assert {r.job_name for r in result.run_requests} == {"usage_job"}
    assert all(r.run_key.startswith("usage:") for r in result.run_requests)


def test_same_content_renamed_or_redropped_is_requested_once(resources, inbox):
    drop(inbox[0], SAMPLE_USAGE / "team_usage.csv")
    first = tick(resources)
    assert [r.partition_key for r in first.run_requests] == ["2026-11-18", "2026-11-21"]
    # Nothing new: no requests, even before the runs have landed the file.
    again = tick(resources, first.cursor)
    assert again.run_requests == []
    drop(inbox[0], SAMPLE_USAGE / "team_usage.csv", name="renamed.csv")
    assert tick(resources, again.cursor).run_requests == []
    # A fresh sensor (no cursor) derives the same run keys, so Dagster dedupes the runs.
    fresh = tick(resources)
    assert sorted(r.run_key for r in fresh.run_requests) == sorted(
        r.run_key for r in first.run_requests
    )


def test_cursor_caches_checksums_and_forgets_landed_files(resources, inbox):
    drop(inbox[0], SAMPLE_USAGE / "team_usage.csv")
    result = tick(resources)
    state = json.loads(result.cursor)
    assert len(state["requested"]) == 1
    ((path, (size, _mtime, checksum)),) = state["stat"].items()
    assert path.endswith("team_usage.csv") and size > 0 and checksum == state["requested"][0]
    # Once a run has landed the file, the warehouse remembers it and the cursor lets go.
    dg.materialize(
        [*_assets()],
        partition_key="2026-11-21",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    after = json.loads(tick(resources, result.cursor).cursor)
    assert after["requested"] == []


def test_unreadable_file_requests_a_set_aside_run(resources, inbox):
    write(inbox[0], "broken.json", '{"records": [')
    drop(inbox[0], SAMPLE_USAGE / "team_usage.csv")
    result = tick(resources)
    set_aside = [r for r in result.run_requests if r.job_name == "usage_set_aside_job"]
    assert len(set_aside) == 1
    files = set_aside[0].run_config["ops"]["set_aside_usage_files"]["config"]["files"]
    assert [f["path"].rsplit("/", 1)[1] for f in files] == ["broken.json"]
    assert "not valid JSON" in files[0]["message"]
    assert tick(resources, result.cursor).run_requests == []


def test_daily_schedule_processes_yesterday():
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 22, 1, 15, tzinfo=dt.UTC)
    )
    request = usage_daily_schedule(context)
    assert request.partition_key == "2026-11-21"
    assert request.run_key == "daily:2026-11-21"


def _assets():
    from costsync_pipeline.defs.usage.assets import raw_usage_files, usage_costs

    return raw_usage_files, usage_costs


def test_cursor_forgets_content_that_left_the_inbox_before_its_run(resources, inbox):
    path = write(inbox[0], "export.json", '{"records": [', mtime=RECEIVED)
    first = tick(resources)
    assert [r.job_name for r in first.run_requests] == ["usage_set_aside_job"]
    path.write_text('{"records": []}\n')  # replaced before the set-aside run got to it
    second = tick(resources, first.cursor)
    assert json.loads(second.cursor)["requested"] != json.loads(first.cursor)["requested"]
    # The same broken bytes dropped again later are judged again, with a new run key.
    path.unlink()
    write(inbox[0], "again.json", '{"records": [', mtime=RECEIVED + 60)
    third = tick(resources, second.cursor)
    (request,) = third.run_requests
    assert request.job_name == "usage_set_aside_job"
    assert request.run_key != first.run_requests[0].run_key
