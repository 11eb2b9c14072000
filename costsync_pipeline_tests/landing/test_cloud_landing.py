"""Cloud and GPU billing exports into cost_snapshots, on SQLite and PostgreSQL, with the real
FOCUS, AWS CUR and Azure samples, seed 001's GPU export and broken variants of each."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from costsync_pipeline.landing.cloud import land_cloud_window
from costsync_pipeline.landing.planning import plan_inbox, run_requests_for
from costsync_pipeline.landing.registry import register_new_files
from costsync_pipeline.quality.cloud import cloud_checks
from costsync_pipeline_tests.conftest import (
    AWS_CUR,
    AZURE_EA,
    FOCUS,
    GPU_EXPORT,
    NOW,
    RECEIVED,
    drop,
    run_concurrently,
    table_fingerprint,
    write,
)

START, END = dt.date(2020, 1, 1), dt.date(2026, 11, 23)
CENT = Decimal("0.01")
COST_COLUMN = {
    FOCUS: "BilledCost",
    AWS_CUR: "lineItem/UnblendedCost",
    AZURE_EA: "CostInBillingCurrency",
}


def file_sum(path: Path, column: str) -> Decimal:
    """The file's own billed cost, summed independently of costsync's readers."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return sum((Decimal(r[column]) for r in csv.DictReader(fh)), Decimal(0))


def land(engine, inbox, now=NOW):
    set_aside = register_new_files(engine, *inbox, START, END, now, kind="cloud")
    return set_aside, land_cloud_window(engine, START, END, run_id="test", now=now)


def stored(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def as_dec(value) -> Decimal:
    return Decimal(str(value))


def test_real_samples_land_and_conserve_billed_cost(engine, inbox):
    for path in (FOCUS, AWS_CUR, AZURE_EA, GPU_EXPORT):
        drop(inbox[0], path, mtime=RECEIVED, kind="cloud")
    set_aside, result = land(engine, inbox)
    assert set_aside == []
    by_name = {o.name: o.total() for o in result.files}
    for path, column in COST_COLUMN.items():
        totals = by_name[path.name]
        assert totals.billed_cost_read == file_sum(path, column)
        assert totals.billed_cost_landed == totals.billed_cost_read
        assert totals.rows_read == totals.rows_landed
    gpu = json.loads(GPU_EXPORT.read_text())["cost_data"]
    assert by_name[GPU_EXPORT.name].billed_cost_landed == sum(
        Decimal(str(r["cost_usd"])) for r in gpu
    )
    # The stored snapshots add up to the files, to the cent (exactly on PostgreSQL).
    landed = sum((t.billed_cost_landed for t in by_name.values()), Decimal(0))
    (total,) = stored(engine, "SELECT SUM(billed_cost) FROM cost_snapshots")[0]
    assert abs(as_dec(total) - landed) < CENT
    assert all(c.passed for c in cloud_checks(engine, START, END) if c.blocking)


def test_rollup_rules_on_the_real_samples(engine, inbox):
    for path in (FOCUS, AWS_CUR, AZURE_EA, GPU_EXPORT):
        drop(inbox[0], path, mtime=RECEIVED, kind="cloud")
    land(engine, inbox)
    # CUR taxes: monthly line items count on their charge period's first day, as Tax.
    taxes = stored(
        engine,
        "SELECT usage_date, SUM(line_items) FROM cost_snapshots "
        "WHERE provider = 'aws' AND charge_category = 'Tax' GROUP BY usage_date",
    )
    assert [(str(d), int(n)) for d, n in taxes] == [("2023-11-01", 12)]
    # FOCUS: the credit stays negative.
    credits = stored(
        engine, "SELECT billed_cost FROM cost_snapshots WHERE charge_category = 'Credit'"
    )
    assert [round(as_dec(c), 4) for (c,) in credits] == [Decimal("-2.6137")]
    # GPU types lower-case, one row per day and type.
    gpus = stored(
        engine,
        "SELECT resource_type, COUNT(*) FROM cost_snapshots WHERE source LIKE 'gpu%' "
        "GROUP BY resource_type ORDER BY resource_type",
    )
    assert gpus == [("a100", 14), ("h100", 14)]
    # Hourly FOCUS line items summed exactly per UTC day.
    with FOCUS.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["ChargePeriodStart"].startswith("2024-09-18")]
    expected = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    (day_total,) = stored(
        engine,
        "SELECT SUM(billed_cost) FROM cost_snapshots WHERE usage_date = :d "
        "AND source LIKE 'focus%'",
        d=dt.date(2024, 9, 18),
    )[0]
    assert abs(as_dec(day_total) - expected) < Decimal("1e-9")
    # Azure: CAD stays CAD, without a USD value until FX rates exist.
    azure = stored(
        engine,
        "SELECT DISTINCT billing_currency, billed_cost_usd IS NULL FROM cost_snapshots "
        "WHERE provider = 'microsoft' AND usage_date = :d",
        d=dt.date(2023, 9, 2),
    )
    assert [(c, bool(n)) for c, n in azure] == [("CAD", True)]


def test_rerun_and_two_runs_at_once_change_nothing(engine, inbox):
    for path in (FOCUS, AWS_CUR, GPU_EXPORT):
        drop(inbox[0], path, mtime=RECEIVED, kind="cloud")
    land(engine, inbox)
    before = table_fingerprint(
        engine,
        "cost_snapshots",
        "usage_date, provider, service_name",
        exclude={"ingested_at", "updated_at"},
    )
    _, again = land(engine, inbox)
    assert again.changes.inserted == again.changes.updated == again.changes.deleted == 0
    errors = run_concurrently(lambda: land_cloud_window(engine, START, END, now=NOW), 2)
    assert errors == []
    after = table_fingerprint(
        engine,
        "cost_snapshots",
        "usage_date, provider, service_name",
        exclude={"ingested_at", "updated_at"},
    )
    assert after == before
    assert stored(engine, "SELECT COUNT(*) FROM cost_audit_log")[0][0] == 0


def _cur_rows() -> tuple[list[str], list[dict]]:
    with AWS_CUR.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def _csv(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_reissued_cur_replaces_its_billing_period_and_audits(engine, inbox):
    header, rows = _cur_rows()
    v1 = write(inbox[0], "cur-v1.csv", _csv(header, rows), mtime=RECEIVED - 86400, kind="cloud")
    land(engine, inbox)
    # The re-issue settles one charge and no longer has the last day's line items.
    last_day = max(r["lineItem/UsageStartDate"][:10] for r in rows)
    first_usage = next(i for i, r in enumerate(rows) if r["lineItem/LineItemType"] == "Usage")
    changed = dict(rows[first_usage], **{"lineItem/UnblendedCost": "12.5"})
    v2_rows = [changed if i == first_usage else r for i, r in enumerate(rows)]
    v2_rows = [r for r in v2_rows if not r["lineItem/UsageStartDate"].startswith(last_day)]
    write(inbox[0], "cur-v2.csv", _csv(header, v2_rows), mtime=RECEIVED, kind="cloud")
    plan = plan_inbox(engine, inbox[0], NOW, kind="cloud")
    runs = run_requests_for(plan)
    # One range run that reaches the day only the earlier export had.
    assert [(r.partition, r.last_partition) for r in runs] == [("2023-11-01", last_day)]
    _, result = land(engine, inbox)
    v2_total = sum((Decimal(r["lineItem/UnblendedCost"]) for r in v2_rows), Decimal(0))
    (total,) = stored(engine, "SELECT SUM(billed_cost) FROM cost_snapshots")[0]
    assert abs(as_dec(total) - v2_total) < CENT  # replaced, not added
    (n_last,) = stored(
        engine,
        "SELECT COUNT(*) FROM cost_snapshots WHERE usage_date = :d",
        d=dt.date.fromisoformat(last_day),
    )[0]
    assert n_last == 0
    by_name = {o.name: o.total() for o in result.files}
    assert by_name["cur-v1.csv"].rows_superseded == len(rows)
    assert by_name["cur-v1.csv"].billed_cost_superseded == file_sum(v1, "lineItem/UnblendedCost")
    assert by_name["cur-v2.csv"].rows_landed == len(v2_rows)
    audit = stored(
        engine,
        "SELECT entity, entity_key, old_value, new_value, source_file, reason, run_id "
        "FROM cost_audit_log ORDER BY id",
    )
    assert audit and all(a[0] == "cost_snapshots" and a[4] == "cur-v2.csv" for a in audit)
    assert all(a[6] == "test" for a in audit)
    removed = [a for a in audit if a[3] is None]
    assert removed and all(json.loads(a[1])[0] == last_day for a in removed)
    updated = [a for a in audit if a[3] is not None]
    assert len(updated) == 1 and "replaced by cur-v2.csv" in updated[0][5]
    assert as_dec(updated[0][3]) - as_dec(updated[0][2]) == Decimal("12.5") - Decimal(
        rows[first_usage]["lineItem/UnblendedCost"]
    )
    # Dropping the first export again changes nothing: its content is known.
    drop(inbox[0], v1, name="cur-v1-again.csv", mtime=RECEIVED + 60, kind="cloud")
    assert plan_inbox(engine, inbox[0], NOW, kind="cloud").readable == []
    _, again = land(engine, inbox)
    assert (again.changes.inserted, again.changes.updated, again.changes.deleted) == (0, 0, 0)
    # Exactly one current value per key.
    dupes = stored(
        engine,
        "SELECT COUNT(*) FROM (SELECT usage_date, provider, billing_account_id, sub_account_id, "
        "service_name, resource_type, region, charge_category, COUNT(*) AS n "
        "FROM cost_snapshots GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING COUNT(*) > 1) AS d",
    )[0][0]
    assert dupes == 0


def test_corrected_gpu_export_replaces_only_its_days(engine, inbox):
    drop(inbox[0], GPU_EXPORT, mtime=RECEIVED - 3600, kind="cloud")
    land(engine, inbox)
    fix = [
        {"date": "2026-01-02", "provider": "aws", "gpu_type": "a100", "cost_usd": 1000.0},
        {"date": "2026-01-02", "provider": "AWS", "gpu_type": "H100 ", "cost_usd": "2000.50"},
    ]
    write(inbox[0], "gpu-fix.json", json.dumps(fix), mtime=RECEIVED, kind="cloud")
    land(engine, inbox)
    day2 = stored(
        engine,
        "SELECT resource_type, billed_cost FROM cost_snapshots WHERE usage_date = :d "
        "ORDER BY resource_type",
        d=dt.date(2026, 1, 2),
    )
    assert [(r, round(as_dec(c), 2)) for r, c in day2] == [
        ("a100", Decimal("1000.00")),
        ("h100", Decimal("2000.50")),
    ]
    assert stored(engine, "SELECT COUNT(*) FROM cost_snapshots")[0][0] == 28
    assert stored(engine, "SELECT COUNT(*) FROM cost_audit_log")[0][0] == 2


def test_bad_rows_are_rejected_and_the_rest_land(engine, inbox):
    text = FOCUS.read_text(encoding="utf-8")
    lines = text.splitlines()
    header = next(csv.reader([lines[0]]))
    rows = list(csv.reader(lines[1:7]))
    col = {name: i for i, name in enumerate(header)}
    rows[0][col["BilledCost"]] = "$10,000.00 "
    rows[1][col["ChargeCategory"]] = "Bogus"
    rows[2][col["ChargePeriodStart"]] = "5/1/25"
    rows[5][col["BilledCost"]] = "5/1/25"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    write(inbox[0], "focus-broken.csv", out.getvalue(), mtime=RECEIVED, kind="cloud")
    _, result = land(engine, inbox)
    totals = result.files[0].total()
    assert (totals.rows_read, totals.rows_landed, totals.rows_rejected) == (6, 2, 4)
    readable = [Decimal(r[col["BilledCost"]]) for r in rows[1:5]]
    assert totals.billed_cost_read == sum(readable, Decimal(0))
    assert totals.billed_cost_rejected == readable[0] + readable[1]
    assert totals.billed_cost_landed == readable[2] + readable[3]
    rejected = stored(
        engine,
        'SELECT row_number, "column", "check", value, reason, source_file, raw '
        "FROM rejected_records ORDER BY row_number",
    )
    assert [(r[0], r[1], r[2]) for r in rejected] == [
        (1, "BilledCost", "decimal"),
        (2, "ChargeCategory", "known_charge_category"),
        (3, "ChargePeriodStart", "iso8601_timestamp"),
        (6, "BilledCost", "decimal"),
    ]
    assert rejected[0][3] == "$10,000.00 " and rejected[0][5] == "focus-broken.csv"
    assert all(r[4] and r[6] for r in rejected)


def test_azure_short_year_date_is_rejected(engine, inbox):
    lines = AZURE_EA.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",9/2/2023,", ",5/1/25,", 1)
    write(inbox[0], "azure-bad-date.csv", "\n".join(lines) + "\n", mtime=RECEIVED, kind="cloud")
    _, result = land(engine, inbox)
    totals = result.files[0].total()
    assert (totals.rows_read, totals.rows_landed, totals.rows_rejected) == (27, 26, 1)
    assert stored(engine, 'SELECT "column", "check" FROM rejected_records') == [
        ("Date", "azure_date")
    ]


def test_unreadable_files_are_set_aside_and_a_bom_is_fine(engine, inbox, tmp_path):
    cases = {
        "empty.csv": b"",
        "header-only.csv": FOCUS.read_bytes().split(b"\n", 1)[0] + b"\n",
        "german.csv": "Datum,Kosten,Abrechnungswährung,Menge\n9/2/2023,0,EUR,1\n".encode(),
        "focus-no-currency.csv": FOCUS.read_text(encoding="utf-8")
        .replace('"BillingCurrency",', '"Currency",', 1)
        .encode(),
    }
    for name, content in cases.items():
        write(inbox[0], name, content, mtime=RECEIVED, kind="cloud")
    write(
        inbox[0],
        "azure-bom.csv",
        b"\xef\xbb\xbf" + AZURE_EA.read_bytes(),
        mtime=RECEIVED,
        kind="cloud",
    )
    set_aside, result = land(engine, inbox)
    messages = dict(set_aside)
    assert set(messages) == set(cases)
    assert "empty" in messages["empty.csv"]
    assert "no data rows" in messages["header-only.csv"]
    assert "German" in messages["german.csv"]
    assert "BillingCurrency" in messages["focus-no-currency.csv"]
    failed = Path(inbox[0]) / "cloud" / "failed"
    for name in cases:
        assert (failed / name).exists() and (failed / f"{name}.error.txt").exists()
    assert [o.name for o in result.files] == ["azure-bom.csv"]
    assert result.files[0].total().rows_landed == 27
    files = stored(
        engine, "SELECT file_name, status FROM landed_files WHERE kind = 'cloud' ORDER BY 1"
    )
    assert ("german.csv", "set_aside") in files and ("azure-bom.csv", "landed") in files
    (n,) = stored(engine, "SELECT COUNT(*) FROM rejected_records WHERE stage = 'file'")[0]
    assert n == len(cases)


def test_broken_gpu_and_cur_rows_are_rejected(engine, inbox):
    gpu = json.loads(GPU_EXPORT.read_text())["cost_data"][:4]
    gpu[0]["cost_usd"] = "1,234.50"
    gpu[1]["gpu_type"] = "  "
    gpu[2]["date"] = "yesterday"
    write(inbox[0], "gpu-broken.json", json.dumps({"cost_data": gpu}), RECEIVED, kind="cloud")
    header, rows = _cur_rows()
    rows = rows[:5]
    rows[0]["lineItem/LineItemType"] = "MysteryCharge"
    rows[1]["lineItem/UnblendedCost"] = "1.2.3"
    write(inbox[0], "cur-broken.csv", _csv(header, rows), RECEIVED, kind="cloud")
    _, result = land(engine, inbox)
    totals = {o.name: o.total() for o in result.files}
    assert (totals["gpu-broken.json"].rows_landed, totals["gpu-broken.json"].rows_rejected) == (
        1,
        3,
    )
    assert (totals["cur-broken.csv"].rows_landed, totals["cur-broken.csv"].rows_rejected) == (
        3,
        2,
    )
    for t in totals.values():
        assert t.billed_cost_read == t.billed_cost_landed + (t.billed_cost_rejected or 0)
    checks = stored(
        engine, 'SELECT source_file, "column", "check" FROM rejected_records ORDER BY 1, row_number'
    )
    assert checks == [
        ("cur-broken.csv", "lineItem/LineItemType", "known_line_item_type"),
        ("cur-broken.csv", "lineItem/UnblendedCost", "decimal"),
        ("gpu-broken.json", "cost_usd", "decimal"),
        ("gpu-broken.json", "gpu_type", "not_blank"),
        ("gpu-broken.json", "date", "iso8601_timestamp"),
    ]


def test_bills_in_another_currency_convert_at_the_latest_rate_on_or_before(engine, inbox):
    from costsync_pipeline.landing.fx import store_rates
    from costsync_pipeline.sources.fx import FxRate

    drop(inbox[0], AZURE_EA, mtime=RECEIVED, kind="cloud")
    # The Azure sample bills CAD on 2023-09-02: a rate of the day before applies, not the
    # later one.
    rates = [
        FxRate("CAD", Decimal("0.74"), dt.date(2023, 9, 1), "ecb"),
        FxRate("CAD", Decimal("0.80"), dt.date(2023, 9, 3), "ecb"),
    ]
    store_rates(engine, rates, 2, NOW)
    land(engine, inbox)
    rows = stored(
        engine,
        "SELECT billing_currency, billed_cost, billed_cost_usd, effective_cost, "
        "effective_cost_usd FROM cost_snapshots",
    )
    assert rows and {r[0] for r in rows} == {"CAD"}
    for _, billed, billed_usd, effective, effective_usd in rows:
        expected = (as_dec(billed) * Decimal("0.74")).quantize(Decimal("1e-12"))
        assert abs(as_dec(billed_usd) - expected) < Decimal("1e-11")
        expected = (as_dec(effective) * Decimal("0.74")).quantize(Decimal("1e-12"))
        assert abs(as_dec(effective_usd) - expected) < Decimal("1e-11")
    check = {c.name: c for c in cloud_checks(engine, START, END)}["usd_value_known"]
    assert check.passed
