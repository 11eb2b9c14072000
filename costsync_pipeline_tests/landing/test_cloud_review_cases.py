"""Cloud landing cases found in review: re-issues whose days move, bills that share a key,
unreadable lines, NUL characters, odd amounts, duplicate GPU records, the window lock."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal

import sqlalchemy as sa

from costsync_pipeline.landing.cloud import land_cloud_window
from costsync_pipeline.landing.planning import plan_inbox, run_requests_for
from costsync_pipeline.landing.registry import register_new_files
from costsync_pipeline.quality.cloud import cloud_checks
from costsync_pipeline.warehouse.locks import exclusive
from costsync_pipeline_tests.conftest import NOW, RECEIVED, write

HEADER = (
    "BilledCost,BillingAccountId,BillingCurrency,BillingPeriodStart,ChargeCategory,"
    "ChargePeriodStart,ProviderName,ServiceName,RegionId,SubAccountId,ResourceType,EffectiveCost"
)


def focus(rows, period="2025-05-01 00:00:00", account="A1") -> str:
    """rows: (cost, charge period start, service[, category])"""
    lines = [HEADER]
    for cost, day, service, *rest in rows:
        category = rest[0] if rest else "Usage"
        lines.append(
            f"{cost},{account},USD,{period},{category},{day},AWS,{service},us-east-1,S1,,{cost}"
        )
    return "\n".join(lines) + "\n"


def run_planned(engine, inbox, reverse=False):
    """What the sensor asks for, executed like the runs would be (optionally backwards)."""
    runs = [r for r in run_requests_for(plan_inbox(engine, inbox[0], NOW, kind="cloud"))]
    for r in reversed(runs) if reverse else runs:
        start = dt.date.fromisoformat(r.partition)
        end = dt.date.fromisoformat(r.last_partition) + dt.timedelta(days=1)
        register_new_files(engine, *inbox, start, end, NOW, kind="cloud")
        land_cloud_window(engine, start, end, run_id="t", now=NOW)
    return runs


def total(engine):
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT SUM(billed_cost) FROM cost_snapshots")).scalar()
    return Decimal(str(value or 0))


def test_reissue_on_other_days_replaces_in_any_run_order(engine, inbox):
    a = focus([("10.00", "2025-05-01", "EC2"), ("20.00", "2025-05-02", "EC2")])
    write(inbox[0], "a.csv", a, RECEIVED - 7200, kind="cloud")
    run_planned(engine, inbox)
    b = focus([("7.00", "2025-05-10", "EC2"), ("8.00", "2025-05-11", "EC2")])
    write(inbox[0], "b.csv", b, RECEIVED, kind="cloud")
    runs = run_planned(engine, inbox, reverse=False)
    assert len(runs) == 2  # 05-01..05-02 and 05-10..05-11
    assert total(engine) == Decimal(15)
    with engine.connect() as conn:
        removed = conn.execute(
            sa.text("SELECT reason FROM cost_audit_log WHERE new_value IS NULL")
        ).all()
    assert len(removed) == 2 and all("b.csv" in r for (r,) in removed)
    assert all(c.passed for c in cloud_checks(engine, dt.date(2025, 5, 1), dt.date(2025, 6, 1)))


def test_a_one_day_backfill_of_a_reissue_rebuilds_its_whole_period(engine, inbox):
    days = ("2025-05-01", "2025-05-02", "2025-05-03")
    write(inbox[0], "a.csv", focus([("10", d, "EC2") for d in days]), RECEIVED - 60, kind="cloud")
    run_planned(engine, inbox)
    write(inbox[0], "b.csv", focus([("11", d, "EC2") for d in days]), RECEIVED, kind="cloud")
    # Someone backfills 2025-05-02 only, before the sensor's run: every day moves to b.csv.
    day = dt.date(2025, 5, 2)
    register_new_files(engine, *inbox, day, day + dt.timedelta(days=1), NOW, kind="cloud")
    result = land_cloud_window(engine, day, day + dt.timedelta(days=1), now=NOW)
    assert (result.start, result.end) == (dt.date(2025, 5, 1), dt.date(2025, 5, 4))
    assert total(engine) == Decimal(33)


def test_bills_of_different_periods_add_up_on_a_shared_day(engine, inbox):
    april = focus([("-3", "2025-04-30", "EC2", "Credit")], period="2025-04-01 00:00:00")
    may = focus(
        [("-2", "2025-04-30", "EC2", "Credit"), ("50", "2025-05-01", "EC2")],
        period="2025-05-01 00:00:00",
    )
    write(inbox[0], "april.csv", april, RECEIVED - 60, kind="cloud")
    write(inbox[0], "may.csv", may, RECEIVED, kind="cloud")
    run_planned(engine, inbox)
    with engine.connect() as conn:
        credit = conn.execute(
            sa.text("SELECT billed_cost FROM cost_snapshots WHERE charge_category = 'Credit'")
        ).scalar_one()
    assert Decimal(str(credit)) == Decimal(-5)


def test_unreadable_lines_nul_characters_and_odd_amounts_are_rejected(engine, inbox):
    lines = focus(
        [
            ("1.00", "2025-05-01", "EC2"),
            ("1_000", "2025-05-01", "EC2"),
            ("10000000000000", "2025-05-01", "EC2"),
            ("2.00", "2025-05-01", "EC\x002"),
        ]
    ).splitlines()
    lines.append("3.00,A1,USD,oops")  # too few fields
    write(inbox[0], "odd.csv", "\n".join(lines) + "\n", RECEIVED, kind="cloud")
    nul_account = focus([("4.00", "2025-05-01", "EC2")], account="A\x001")
    write(inbox[0], "nul-account.csv", nul_account, RECEIVED, kind="cloud")
    run_planned(engine, inbox)
    assert total(engine) == Decimal(1)
    with engine.connect() as conn:
        checks = conn.execute(
            sa.text(
                'SELECT source_file, row_number, "check" FROM rejected_records '
                "ORDER BY source_file, row_number"
            )
        ).all()
        days = conn.execute(
            sa.text(
                "SELECT d.rows_read, d.rows_landed, d.rows_rejected, d.billed_cost_read, "
                "d.billed_cost_landed, d.billed_cost_rejected FROM landed_file_days d "
                "JOIN landed_files f USING (file_checksum) WHERE f.file_name = 'odd.csv'"
            )
        ).one()
    assert ("odd.csv", 2, "decimal") in checks and ("odd.csv", 5, "parse") in checks
    assert ("odd.csv", 3, "decimal") in checks  # beyond 10^12: not a storable amount
    assert ("odd.csv", 4, "no_nul_character") in checks
    assert ("nul-account.csv", 1, "no_nul_character") in checks
    read, landed, rejected, cost_read, cost_landed, cost_rejected = days
    assert (read, landed, rejected) == (5, 1, 4)
    # "1_000" and the huge amount are not amounts: they add nothing to the file's sum.
    assert Decimal(str(cost_read)) == Decimal(3) and Decimal(str(cost_landed)) == Decimal(1)
    assert Decimal(str(cost_rejected)) == Decimal(2)


def test_repeated_gpu_record_is_a_correction_and_gpu_names_are_types(engine, inbox):
    records = [
        {"date": "2025-05-01", "provider": "AWS", "gpu_type": "NVIDIA H100 80GB", "cost_usd": 10},
        {"date": "2025-05-01", "provider": "aws", "gpu_type": "h100", "cost_usd": 12.5},
    ]
    write(inbox[0], "gpu.json", json.dumps(records), RECEIVED, kind="cloud")
    run_planned(engine, inbox)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT resource_type, billed_cost FROM cost_snapshots")).all()
        superseded = conn.execute(
            sa.text("SELECT rows_superseded, billed_cost_superseded FROM landed_file_days")
        ).one()
    assert [(r, Decimal(str(c))) for r, c in rows] == [("h100", Decimal("12.5"))]
    assert superseded[0] == 1 and Decimal(str(superseded[1])) == Decimal(10)


def test_the_window_lock_makes_a_second_run_wait(engine):
    order: list[str] = []

    def hold():
        with exclusive(engine, "cost_snapshots"):
            order.append("first in")
            time.sleep(0.5)
            order.append("first out")

    first = threading.Thread(target=hold)
    first.start()
    time.sleep(0.1)
    with exclusive(engine, "cost_snapshots"):
        order.append("second in")
    first.join()
    assert order == ["first in", "first out", "second in"]


def test_registering_a_cloud_export_waits_for_a_window_in_progress(engine, inbox):
    """A window decides which export of a scope is current and writes the result; a new
    export registered in between would make it drop the scope's rows."""
    write(inbox[0], "a.csv", focus([("10", "2025-05-01", "EC2")]), RECEIVED, kind="cloud")
    registered = threading.Event()

    def register():
        day = dt.date(2025, 5, 1)
        register_new_files(engine, *inbox, day, day + dt.timedelta(days=1), NOW, kind="cloud")
        registered.set()

    with exclusive(engine, "cost_snapshots"):
        worker = threading.Thread(target=register)
        worker.start()
        assert not registered.wait(0.5)  # held back while the window "runs"
    worker.join(10)
    assert registered.is_set()
