"""The daily_cost view and the README's example queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import sqlalchemy as sa

from costsync_pipeline.landing.cloud import land_cloud_window
from costsync_pipeline.landing.registry import register_new_files
from costsync_pipeline.landing.usage import land_usage_window
from costsync_pipeline.paths import PROJECT_ROOT
from costsync_pipeline_tests.conftest import (
    AWS_CUR,
    AZURE_EA,
    GPU_EXPORT,
    NOW,
    RECEIVED,
    SAMPLE_USAGE,
    drop,
)

START, END = dt.date(2020, 1, 1), dt.date(2026, 11, 23)


def readme_examples() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    block = text.split("<!-- daily_cost examples -->", 1)[1].split("<!-- end daily_cost", 1)[0]
    sql = re.search(r"```sql\n(.*?)```", block, re.S).group(1)
    return [q.strip() for q in sql.split(";") if q.strip().replace("\n", "").strip("- ")]


def _land_everything(engine, inbox):
    for path in sorted(SAMPLE_USAGE.iterdir()):
        drop(inbox[0], path, mtime=RECEIVED)
    for path in (AWS_CUR, AZURE_EA, GPU_EXPORT):
        drop(inbox[0], path, mtime=RECEIVED, kind="cloud")
    for kind in ("usage", "cloud"):
        register_new_files(engine, *inbox, START, END, NOW, kind=kind)
    land_usage_window(engine, START, END, now=NOW)
    land_cloud_window(engine, START, END, now=NOW)


def _close(a, b) -> bool:
    return abs(Decimal(str(a or 0)) - Decimal(str(b or 0))) < Decimal("0.000001")


def test_daily_cost_puts_llm_and_cloud_side_by_side(engine, inbox):
    _land_everything(engine, inbox)
    with engine.connect() as conn:
        view = conn.execute(
            sa.text(
                "SELECT usage_date, provider, llm_requests, llm_cost_usd, cloud_cost_usd, "
                "cloud_rows_without_usd, total_cost_usd FROM daily_cost"
            )
        ).all()
        llm = conn.execute(
            sa.text(
                "SELECT usage_date, provider, COUNT(*), SUM(cost_usd) FROM usage_costs "
                "GROUP BY usage_date, provider"
            )
        ).all()
        cloud = conn.execute(
            sa.text(
                "SELECT usage_date, provider, SUM(billed_cost_usd), "
                "SUM(CASE WHEN billed_cost_usd IS NULL THEN 1 ELSE 0 END) "
                "FROM cost_snapshots GROUP BY usage_date, provider"
            )
        ).all()
    rows = {(str(d), p): r for d, p, *r in view}
    assert len(rows) == len(view) == len(llm) + len(cloud)  # no provider has both here
    for d, p, n, cost in llm:
        requests, llm_cost, cloud_cost, _, total = rows[(str(d), p)]
        assert int(requests) == n and _close(llm_cost, cost) and _close(cloud_cost, 0)
        assert _close(total, cost)
    for d, p, cost, without in cloud:
        requests, llm_cost, cloud_cost, no_usd, total = rows[(str(d), p)]
        assert int(requests) == 0 and _close(cloud_cost, cost) and int(no_usd) == without
        assert _close(total, cost)
    assert rows[("2023-09-02", "microsoft")][3] == 22  # CAD rows wait for FX rates
    gpu_day = rows[("2026-01-01", "aws")]
    assert Decimal(str(gpu_day[2])) > 0


def test_readme_example_queries_run(engine, inbox):
    _land_everything(engine, inbox)
    queries = readme_examples()
    assert len(queries) == 4
    with engine.connect() as conn:
        results = [conn.execute(sa.text(q)).all() for q in queries]
    per_day, per_month, gpu, audit = results
    assert per_day and per_month
    # The one change to a stored cost: team_usage.csv's corrected re-export of a request.
    assert [(r[1], r[-1]) for r in audit] == [
        ("req-18-0000", "replaced by a later export of the record")
    ]
    months = {m: (llm, cloud) for m, llm, cloud in per_month}
    # January 2026's cloud spend is the GPU export's, and the GPU query sees all of it.
    assert _close(months["2026-01"][1], sum(Decimal(str(c)) for _, _, c in gpu))
    assert {g for _, g, _ in gpu} == {"a100", "h100"}
