"""Benchmark: a month of hourly FOCUS line items -> ``cost_snapshots`` on PostgreSQL.

Generates a FOCUS 1.0 CSV with N hourly line items for one billing account and one billing
period (September 2026), then times the code the Dagster assets run: ``register_new_files`` +
``land_cloud_window`` over the month (the first load), the same window again (the idempotent
re-run), and a re-issued export of the period with 1% of the line items changed (the
replacement, with its audit rows). Prints line items per second and peak RSS.

Usage: python bench/bench_cloud_ingest.py [--rows N] [--out DIR]

Everything happens in a database of its own (costsync_bench_<hex> on 127.0.0.1:5432), dropped
at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PERIOD = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
SERVICES = [f"Service {i}" for i in range(40)]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]
TYPES = ["instance", "volume", "bucket", "", "p4d.24xlarge instance"]


def generate(rows: int, seed: int = 20261122) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = rng.integers(0, 30 * 24, rows)
    start = pd.Timestamp("2026-09-01") + pd.to_timedelta(hours, unit="h")
    cost = np.round(rng.gamma(1.2, 0.05, rows), 10)
    services = rng.choice(SERVICES, rows)
    types = rng.choice(TYPES, rows)
    return pd.DataFrame(
        {
            "BilledCost": [f"{c:.10f}" for c in cost],
            "BillingAccountId": "123456789012",
            "BillingCurrency": "USD",
            "BillingPeriodEnd": "2026-10-01 00:00:00",
            "BillingPeriodStart": "2026-09-01 00:00:00",
            "ChargeCategory": rng.choice(["Usage"] * 50 + ["Tax", "Credit"], rows),
            "ChargeDescription": np.where(types == "p4d.24xlarge instance", "p4d.24xlarge", ""),
            "ChargePeriodStart": start.strftime("%Y-%m-%d %H:%M:%S"),
            "ChargePeriodEnd": (start + pd.Timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "ConsumedQuantity": [f"{q:.6f}" for q in rng.gamma(2.0, 3.0, rows)],
            "ConsumedUnit": "Hours",
            "EffectiveCost": [f"{c:.10f}" for c in cost],
            "ProviderName": "AWS",
            "RegionId": rng.choice(REGIONS, rows),
            "ResourceType": np.where(types == "p4d.24xlarge instance", "instance", types),
            "ServiceName": services,
            "SubAccountId": rng.choice([f"sub-{i}" for i in range(8)], rows),
        }
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="line items to generate")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out" / "cloud")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BENCH_DIR.parent))
    from costsync_pipeline.landing.cloud import land_cloud_window
    from costsync_pipeline.landing.registry import register_new_files
    from costsync_pipeline.warehouse.engine import make_engine
    from costsync_pipeline.warehouse.migrations import ensure_schema

    shutil.rmtree(args.out, ignore_errors=True)
    inbox, raw = args.out / "inbox", args.out / "raw"
    (inbox / "cloud").mkdir(parents=True)
    frame = generate(args.rows)
    v1 = inbox / "cloud" / "focus-v1.csv"
    frame.to_csv(v1, index=False)
    os.utime(v1, (PERIOD.timestamp() + 40 * 86400,) * 2)
    file_total = sum((Decimal(c) for c in frame["BilledCost"]), Decimal(0))
    db = f"costsync_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}")
    try:
        ensure_schema(engine)
        start, end = PERIOD.date(), dt.date(2026, 10, 1)
        now = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
        t0 = time.perf_counter()
        register_new_files(engine, str(inbox), str(raw), start, end, now, kind="cloud")
        first = land_cloud_window(engine, start, end, now=now)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = land_cloud_window(engine, start, end, now=now)
        t_again = time.perf_counter() - t0
        changed = frame.copy()
        picks = np.arange(0, len(changed), 100)
        changed.loc[picks, "BilledCost"] = "0.5000000000"
        v2 = inbox / "cloud" / "focus-v2.csv"
        changed.to_csv(v2, index=False)
        os.utime(v2, (PERIOD.timestamp() + 41 * 86400,) * 2)
        t0 = time.perf_counter()
        register_new_files(engine, str(inbox), str(raw), start, end, now, kind="cloud")
        reissue = land_cloud_window(engine, start, end, now=now)
        t_reissue = time.perf_counter() - t0
        landed = first.total().billed_cost_landed
        print(f"line items: {args.rows:,} (one FOCUS CSV, 30 days, {len(SERVICES)} services)")
        print(
            f"first load:  {t_first:6.2f} s  {args.rows / t_first:9,.0f} line items/s  "
            f"{first.changes.inserted:,} snapshot rows"
        )
        print(
            f"re-run:      {t_again:6.2f} s  ratio {t_again / t_first:.2f}  "
            f"unchanged {again.changes.unchanged:,}, updated {again.changes.updated}"
        )
        print(
            f"re-issued:   {t_reissue:6.2f} s  (both exports read) updated "
            f"{reissue.changes.updated:,}, audit rows {reissue.changes.audited:,}, "
            f"superseded line items {reissue.total().rows_superseded:,}"
        )
        print(f"billed cost: file {file_total}  landed {landed}  equal: {file_total == landed}")
        print(f"peak RSS:    {peak_mb():,.0f} MB")
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
