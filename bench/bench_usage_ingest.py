"""Benchmark: usage export files -> committed ``usage_costs`` rows on PostgreSQL.

Generates N realistic usage records in costsync's record format (Parquet, CSV, JSON Lines),
then, per format and in a subprocess of its own (so peak RSS is that format's alone), times the
code the Dagster assets run: ``register_new_files`` + ``land_usage_window`` (the first load),
then ``land_usage_window`` again over the same window (the idempotent re-run). A raw text
``COPY`` of the same normalized rows into a plain table with no indexes gives the physical
limit the first load is compared with.

Usage: python bench/bench_usage_ingest.py [--rows N] [--formats parquet,csv,jsonl] [--out DIR]

Everything happens in a database of its own (costsync_bench_<hex> on 127.0.0.1:5432), dropped
at the end. Results are printed and written to <out>/results-<N>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
FORMATS = ("parquet", "csv", "jsonl")
SEED = 20261122
FIRST_DAY = dt.date(2026, 11, 15)
DAYS = 7
COLUMNS = (
    "request_id", "user_id", "organization_id", "team_id", "workflow_id", "provider", "model",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost", "currency", "timestamp", "original_model", "downgraded",
    "budget_status", "service_tier",
)  # fmt: skip
BOOKKEEPING_TABLES = ("usage_costs", "rejected_records", "landed_files", "landed_file_days")

# Targets from the issue; they are stated for 1,000,000 Parquet records.
TARGET_ROWS = 1_000_000
TARGET_RECORDS_PER_S = 100_000
TARGET_COPY_RATIO = 2.0
TARGET_PEAK_MB = 2048

# How exports spell each provider (most common first) and how often each spelling occurs.
PROVIDERS = {
    "openai": ("openai", "OpenAI", " openai", "OPENAI "),
    "anthropic": ("anthropic", "Anthropic", " anthropic", "anthropic "),
    "google": ("google", "Google", " google", "GOOGLE"),
    "mistral": ("mistral", "Mistral", " mistral", "MISTRAL "),
    "deepseek": ("deepseek", "DeepSeek", " deepseek", "deepseek "),
    "xai": ("xai", "xAI", " xai", "XAI"),
}
SPELLING_WEIGHTS = (0.70, 0.20, 0.05, 0.05)
# Model family: provider, USD per 1M input tokens, per 1M output tokens, reasons.
FAMILIES = (
    ("gpt-4o", "openai", 2.5, 10.0, False),
    ("gpt-4o-mini", "openai", 0.15, 0.6, False),
    ("gpt-4.1", "openai", 2.0, 8.0, False),
    ("gpt-4.1-mini", "openai", 0.4, 1.6, False),
    ("gpt-5", "openai", 1.25, 10.0, True),
    ("gpt-5-mini", "openai", 0.25, 2.0, True),
    ("o3", "openai", 2.0, 8.0, True),
    ("o4-mini", "openai", 1.1, 4.4, True),
    ("claude-opus-4-1", "anthropic", 15.0, 75.0, True),
    ("claude-sonnet-4-5", "anthropic", 3.0, 15.0, True),
    ("claude-haiku-4-5", "anthropic", 1.0, 5.0, False),
    ("claude-3-5-haiku", "anthropic", 0.8, 4.0, False),
    ("gemini-2.5-pro", "google", 1.25, 10.0, True),
    ("gemini-2.5-flash", "google", 0.3, 2.5, True),
    ("gemini-2.5-flash-lite", "google", 0.1, 0.4, False),
    ("gemini-2.0-flash", "google", 0.1, 0.4, False),
    ("mistral-large", "mistral", 2.0, 6.0, False),
    ("mistral-medium", "mistral", 0.4, 2.0, False),
    ("mistral-small", "mistral", 0.1, 0.3, False),
    ("codestral", "mistral", 0.3, 0.9, False),
    ("deepseek-chat", "deepseek", 0.27, 1.1, False),
    ("deepseek-reasoner", "deepseek", 0.55, 2.19, True),
    ("grok-4", "xai", 3.0, 15.0, True),
    ("grok-3", "xai", 3.0, 15.0, False),
    ("grok-3-mini", "xai", 0.3, 0.5, True),
)
SNAPSHOTS = 8  # each family: its alias plus 7 dated snapshots -> 25 x 8 = 200 models
N_USERS, N_ORGS, N_TEAMS, N_WORKFLOWS = 5_000, 50, 400, 2_000
TIERS = (("standard", "batch", "priority", "flex"), (0.90, 0.07, 0.02, 0.01))
BUDGET = (("normal", "warning", "exceeded"), (0.90, 0.08, 0.02))
EUR_SHARE, EUR_PER_USD = 0.05, 0.92


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _vocabulary(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}-{i:0{width}d}" for i in range(n)], dtype=object)


def _model_catalog() -> dict[str, np.ndarray]:
    """The 200 models with their provider index, prices and whether they reason."""
    providers = list(PROVIDERS)
    names, provider, price_in, price_out, reasons = [], [], [], [], []
    for family, prov, p_in, p_out, thinks in FAMILIES:
        snapshots = [family] + [f"{family}-2026-{m:02d}-01" for m in range(1, SNAPSHOTS)]
        names += snapshots
        provider += [providers.index(prov)] * SNAPSHOTS
        price_in += [p_in] * SNAPSHOTS
        price_out += [p_out] * SNAPSHOTS
        reasons += [thinks] * SNAPSHOTS
    flagship = {}
    for family, prov, *_ in FAMILIES:
        flagship.setdefault(prov, family)
    return {
        "name": np.array(names, dtype=object),
        "titled": np.array([n.title() for n in names], dtype=object),
        "provider": np.array(provider),
        "price_in": np.array(price_in),
        "price_out": np.array(price_out),
        "reasons": np.array(reasons),
        "spellings": np.array([PROVIDERS[p] for p in providers], dtype=object),
        "flagship": np.array([flagship[p] for p in providers], dtype=object),
    }


def generate_usage(rows: int) -> pd.DataFrame:
    """N usage records, vectorized and reproducible (fixed seed); timestamps tz-aware UTC."""
    rng = np.random.default_rng(SEED)
    cat = _model_catalog()
    popularity = 1.0 / np.arange(1, len(cat["name"]) + 1) ** 1.1
    popularity = rng.permutation(popularity / popularity.sum())
    model = rng.choice(len(cat["name"]), size=rows, p=popularity)
    prov = cat["provider"][model]
    spelling = rng.choice(len(SPELLING_WEIGHTS), size=rows, p=SPELLING_WEIGHTS)

    user = rng.integers(0, N_USERS, rows)
    user_org = rng.integers(0, N_ORGS, N_USERS)
    user_team = rng.integers(0, N_TEAMS, N_USERS)
    teams = _vocabulary("team", N_TEAMS, 3)[user_team[user]]
    teams[rng.random(rows) < 0.05] = None
    workflows = _vocabulary("wf", N_WORKFLOWS, 4)[rng.integers(0, N_WORKFLOWS, rows)]
    workflows[rng.random(rows) < 0.4] = None

    input_tokens = np.clip(rng.lognormal(7.0, 1.2, rows), 1, 200_000).astype(np.int64)
    output_tokens = np.clip(rng.lognormal(5.5, 1.0, rows), 1, 32_000).astype(np.int64)
    cache_read = np.where(rng.random(rows) < 0.4, rng.lognormal(7.5, 1.0, rows), 0)
    cache_write = np.where(rng.random(rows) < 0.1, rng.lognormal(6.5, 1.0, rows), 0)
    cache_read, cache_write = cache_read.astype(np.int64), cache_write.astype(np.int64)
    reasoning = (output_tokens * rng.uniform(0.0, 0.8, rows)).astype(np.int64)
    reasoning = np.where(cat["reasons"][model], reasoning, 0)
    p_in, p_out = cat["price_in"][model], cat["price_out"][model]
    usd = (
        input_tokens * p_in
        + cache_read * p_in * 0.1
        + cache_write * p_in * 1.25
        + output_tokens * p_out
    ) / 1e6
    eur = rng.random(rows) < EUR_SHARE
    downgraded = rng.random(rows) < 0.03
    offsets_ms = np.sort(rng.integers(0, DAYS * 86_400_000, rows))
    timestamps = np.datetime64(FIRST_DAY, "ms") + offsets_ms.astype("timedelta64[ms]")

    data = {
        "request_id": np.char.mod("req-%09d", np.arange(rows)),
        "user_id": _vocabulary("user", N_USERS, 5)[user],
        "organization_id": _vocabulary("org", N_ORGS, 3)[user_org[user]],
        "team_id": teams,
        "workflow_id": workflows,
        "provider": cat["spellings"][prov, spelling],
        "model": np.where(rng.random(rows) < 0.03, cat["titled"][model], cat["name"][model]),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "reasoning_tokens": reasoning,
        "cost": np.round(np.where(eur, usd * EUR_PER_USD, usd), 6),
        "currency": np.where(eur, "EUR", "USD").astype(object),
        "timestamp": pd.to_datetime(timestamps, utc=True).as_unit("us"),
        "original_model": np.where(downgraded, cat["flagship"][prov], None),
        "downgraded": downgraded,
        "budget_status": rng.choice(BUDGET[0], size=rows, p=BUDGET[1]).astype(object),
        "service_tier": rng.choice(TIERS[0], size=rows, p=TIERS[1]).astype(object),
    }
    return pd.DataFrame({c: data[c] for c in COLUMNS})


def data_files(out: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """The input file of each format for N rows, generated unless already cached in ``out``.

    Generation runs in a subprocess: Linux carries a process's peak RSS over fork and exec
    into its children, so a parent that had held the generated frames would inflate the
    ``ru_maxrss`` of every measurement child.
    """
    paths = {fmt: out / f"usage-{rows}.{fmt}" for fmt in formats}
    missing = [fmt for fmt, p in paths.items() if not p.exists()]
    if not missing:
        log(f"reusing cached files for {rows:,} rows in {out}")
        return paths
    cmd = [sys.executable, __file__, "--generate", "--rows", str(rows), "--out", str(out)]
    cmd += ["--formats", ",".join(missing)]
    subprocess.run(cmd, check=True)
    return paths


def write_data_files(out: Path, rows: int, formats: list[str]) -> None:
    """Generate N records and write them in each format (atomically: temp file, rename)."""
    log(f"generating {rows:,} rows ({', '.join(formats)})")
    frame = generate_usage(rows)
    naive_utc = frame["timestamp"].dt.tz_convert(None).to_numpy()
    text = frame.assign(timestamp=np.datetime_as_string(naive_utc, unit="ms") + "Z")
    out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = out / f"usage-{rows}.{fmt}"
        tmp = path.with_suffix(f".{fmt}.tmp")
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        elif fmt == "csv":
            text.to_csv(tmp, index=False, float_format="%.6f")
        else:
            text.to_json(tmp, orient="records", lines=True, double_precision=6)
        os.replace(tmp, path)
        log(f"wrote {path.name} ({path.stat().st_size / 1e6:,.1f} MB)")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mb() -> float:
    """The same peak as the kernel reports it for this process image, a cross-check."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stage_inbox(run_dir: Path, source: Path) -> tuple[Path, Path]:
    """A fresh inbox holding only ``source`` (under usage/) and an empty raw zone."""
    shutil.rmtree(run_dir, ignore_errors=True)
    inbox, raw_zone = run_dir / "inbox", run_dir / "raw"
    (inbox / "usage").mkdir(parents=True)
    raw_zone.mkdir()
    try:
        os.link(source, inbox / "usage" / source.name)
    except OSError:
        shutil.copyfile(source, inbox / "usage" / source.name)
    return inbox, raw_zone


def run_child(fmt: str, source: Path, db_url: str, result_path: Path, profile: Path | None) -> None:
    """Time first load and re-run of one file through the asset code; write a JSON result."""
    import sqlalchemy as sa

    from costsync_pipeline.landing.registry import register_new_files
    from costsync_pipeline.landing.usage import land_usage_window
    from costsync_pipeline.warehouse.engine import make_engine
    from costsync_pipeline.warehouse.migrations import ensure_schema

    engine = make_engine(db_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(BOOKKEEPING_TABLES)}")
    run_dir = result_path.parent / f"run-{fmt}"
    inbox, raw_zone = _stage_inbox(run_dir, source)
    start, end = FIRST_DAY, FIRST_DAY + dt.timedelta(days=DAYS)
    rss_before = peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    try:
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        now = dt.datetime.now(dt.UTC)
        set_aside = register_new_files(engine, str(inbox), str(raw_zone), start, end, now)
        t1 = time.perf_counter()
        first = land_usage_window(engine, start, end, run_id="bench")
        t2 = time.perf_counter()
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        rss_first = peak_rss_mb()
        rerun = land_usage_window(engine, start, end, run_id="bench")
        t3 = time.perf_counter()
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(*) FROM usage_costs")).scalar_one()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        engine.dispose()
    result = {
        "format": fmt,
        "file_bytes": source.stat().st_size,
        "register_s": t1 - t0,
        "land_s": t2 - t1,
        "first_load_s": t2 - t0,
        "rerun_s": t3 - t2,
        "rss_after_imports_mb": rss_before,
        "rss_after_first_load_mb": rss_first,
        "peak_rss_mb": peak_rss_mb(),
        "vm_hwm_mb": vm_hwm_mb(),
        "set_aside": set_aside,
        "first": _window_summary(first),
        "rerun": _window_summary(rerun),
        "rows_stored": stored,
        "profiled": bool(profile),
    }
    result_path.write_text(json.dumps(result, indent=2))


def _window_summary(result) -> dict:
    """The counts of a WindowResult, as plain JSON."""
    return {
        "inserted": result.counts.inserted,
        "updated": result.counts.updated,
        "unchanged": result.counts.unchanged,
        "rows_read": result.total().rows_read,
        "rows_rejected": result.total().rows_rejected,
        "rows_duplicate": result.total().rows_duplicate,
        "rejected_by_reason": result.rejected_by_reason,
    }


def problems_of(res: dict, rows: int) -> list[str]:
    """What a correct load of N clean rows would not show."""
    found = [f"set aside: {msg}" for _, msg in res["set_aside"]]
    first, rerun = res["first"], res["rerun"]
    expected = {
        "first load rows read": (first["rows_read"], rows),
        "first load inserted": (first["inserted"], rows),
        "first load rejected": (first["rows_rejected"], 0),
        "first load duplicates": (first["rows_duplicate"], 0),
        "re-run unchanged": (rerun["unchanged"], rows),
        "rows in usage_costs": (res["rows_stored"], rows),
    }
    found += [
        f"{k}: {got:,}, expected {want:,}" for k, (got, want) in expected.items() if got != want
    ]
    found += [f"rejected {n:,}x: {reason}" for reason, n in first["rejected_by_reason"].items()]
    return found


def run_format(fmt: str, source: Path, db_url: str, out: Path, profile: bool) -> dict:
    """Run one format's measurement in a child process; its result, or the failure."""
    result_path = out / f"child-{fmt}.json"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", fmt, "--out", str(out)]
    cmd += ["--source", str(source), "--db-url", db_url]
    if profile:
        cmd += ["--profile-to", str(out / f"profile-{fmt}-{source.stem}.prof")]
    log(f"{fmt}: first load and re-run of {source.name}")
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0 or not result_path.exists():
        return {"format": fmt, "error": f"child exited with {done.returncode} (see stderr)"}
    result = json.loads(result_path.read_text())
    result_path.unlink()
    log(f"{fmt}: first load {result['first_load_s']:.2f} s, re-run {result['rerun_s']:.2f} s")
    return result


def measure_raw_copy(conninfo: str) -> dict:
    """Time a text COPY of the rows in ``usage_costs`` into a plain table, up to commit.

    The rows are exported first (untimed) into memory as CSV and sent in 1 MiB blocks.
    """
    with psycopg.connect(conninfo, options="-c timezone=UTC") as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'usage_costs' ORDER BY ordinal_position"
            )
        ]
        col_list = ", ".join(f'"{c}"' for c in columns)
        buf = bytearray()
        with conn.cursor().copy(
            f"COPY (SELECT {col_list} FROM usage_costs) TO STDOUT WITH (FORMAT csv)"
        ) as copy:
            for data in copy:
                buf += data
        conn.execute("DROP TABLE IF EXISTS raw_copy")
        conn.execute("CREATE TABLE raw_copy (LIKE usage_costs)")
        conn.commit()
        indexes = conn.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'raw_copy'::regclass"
        ).fetchone()[0]
        if indexes:
            raise RuntimeError("raw_copy must have no indexes or primary key")
        view = memoryview(buf)
        t0 = time.perf_counter()
        with conn.cursor().copy(f"COPY raw_copy ({col_list}) FROM STDIN WITH (FORMAT csv)") as cp:
            for offset in range(0, len(view), 1 << 20):
                cp.write(view[offset : offset + (1 << 20)])
        conn.commit()
        seconds = time.perf_counter() - t0
        rows = conn.execute("SELECT count(*) FROM raw_copy").fetchone()[0]
        conn.execute("DROP TABLE raw_copy")
        conn.commit()
    return {"seconds": seconds, "rows": rows, "bytes": len(buf)}


def evaluate(res: dict, rows: int, raw_copy_s: float | None) -> dict:
    """Derived figures of one format and whether each target of the issue is met."""
    first, rerun = res["first_load_s"], res["rerun_s"]
    ratio = first / raw_copy_s if raw_copy_s else None
    return {
        "records_per_s": rows / first,
        "copy_ratio": ratio,
        "rerun_ratio": rerun / first,
        "targets": {
            "records_per_s": rows / first >= TARGET_RECORDS_PER_S,
            "copy_ratio": None if ratio is None else ratio <= TARGET_COPY_RATIO,
            "peak_rss": res["peak_rss_mb"] < TARGET_PEAK_MB,
            "rerun": rerun <= first,
        },
    }


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def _target_cell(key: str, res: dict) -> str:
    """One format's figure for one target, with its verdict."""
    ev = res["evaluation"]
    value = {
        "records_per_s": f"{ev['records_per_s']:,.0f}/s",
        "copy_ratio": "n/a" if ev["copy_ratio"] is None else f"{ev['copy_ratio']:.2f}x",
        "peak_rss": f"{res['peak_rss_mb']:,.0f} MB",
        "rerun": f"{ev['rerun_ratio']:.2f}x",
    }[key]
    return f"{value} {_mark(ev['targets'][key])}"


def render(report: dict) -> str:
    """The results as plain-text tables, with the issue's targets beside the figures."""
    rows, env, raw = report["rows"], report["environment"], report["raw_copy"]
    done = [r for r in report["formats"] if "error" not in r]
    lines = [
        f"costsync usage ingest benchmark: {rows:,} rows, {report['started_at']}",
        f"PostgreSQL {env['postgresql']}, Python {env['python']}, pandas {env['pandas']}, "
        f"pandera {env['pandera']}, pyarrow {env['pyarrow']}, psycopg {env['psycopg']}, "
        f"{env['cpus']} CPUs",
        "",
        f"{'format':<8} {'rows':>10} {'first s':>8} {'records/s':>10} {'x COPY':>7} "
        f"{'re-run s':>9} {'re/first':>9} {'peak RSS MB':>12} {'(first load)':>13}   "
        "first = register + land",
    ]
    for res in report["formats"]:
        if "error" in res:
            lines.append(f"{res['format']:<8} FAILED: {res['error']}")
            continue
        ev = res["evaluation"]
        ratio = "n/a" if ev["copy_ratio"] is None else f"{ev['copy_ratio']:.2f}"
        first_peak = f"({res['rss_after_first_load_mb']:,.0f})"
        lines.append(
            f"{res['format']:<8} {rows:>10,} {res['first_load_s']:>8.2f} "
            f"{ev['records_per_s']:>10,.0f} {ratio:>7} {res['rerun_s']:>9.2f} "
            f"{ev['rerun_ratio']:>9.2f} {res['peak_rss_mb']:>12,.0f} "
            f"{first_peak:>13}   "
            f"{res['register_s']:.2f} + {res['land_s']:.2f} s"
        )
    if raw:
        lines.append(
            f"raw COPY (text CSV, logged table, no indexes): {raw['seconds']:.2f} s for "
            f"{raw['rows']:,} rows ({raw['rows'] / raw['seconds']:,.0f} rows/s)"
        )
    lines += [
        "",
        (
            f"{'target (issue: 1,000,000 Parquet records)':<44}"
            + "".join(f"{r['format']:<19}" for r in done)
        ).rstrip(),
    ]
    labels = {
        "records_per_s": f">= {TARGET_RECORDS_PER_S:,} records/s end to end",
        "copy_ratio": f"<= {TARGET_COPY_RATIO:.1f}x the raw COPY time",
        "peak_rss": f"peak memory < {TARGET_PEAK_MB:,} MB",
        "rerun": "re-run no slower than first load",
    }
    for key, label in labels.items():
        cells = "".join(f"{_target_cell(key, r):<19}" for r in done)
        lines.append(f"{label:<44}{cells}".rstrip())
    if rows != TARGET_ROWS:
        lines.append(f"(this run has {rows:,} rows: the verdicts are indicative only)")
    problems = [(r["format"], p) for r in report["formats"] for p in r.get("problems", [])]
    if problems:
        lines += ["", "problems:"] + [f"  {fmt}: {p}" for fmt, p in problems]
    if any(r.get("profiled") for r in done):
        lines += ["", "note: the first loads ran under cProfile; their timings are inflated"]
    return "\n".join(lines)


def environment(conninfo: str) -> dict:
    """Versions and machine facts printed with the results."""
    with psycopg.connect(conninfo) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "postgresql": server,
        "python": platform.python_version(),
        **{pkg: version(pkg) for pkg in ("pandas", "pandera", "pyarrow", "psycopg", "numpy")},
        "cpus": os.cpu_count(),
    }


def run_benchmark(args: argparse.Namespace) -> int:
    """Generate (or reuse) the files, measure every format and the raw COPY, report."""
    out = args.out.resolve()
    formats = args.formats
    files = data_files(out, args.rows, formats)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    db = f"costsync_bench_{uuid.uuid4().hex[:12]}"
    conninfo = f"host=127.0.0.1 port=5432 user=postgres dbname={db} connect_timeout=5"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    log(f"created database {db}")
    try:
        results = [
            run_format(fmt, files[fmt], PG_URL.format(db=db), out, args.profile) for fmt in formats
        ]
        raw = None
        if any("error" not in r for r in results):
            log("raw COPY of the rows in usage_costs into a table without indexes")
            raw = measure_raw_copy(conninfo)
        env = environment(conninfo)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        log(f"dropped database {db}")
    for res in results:
        if "error" not in res:
            res["evaluation"] = evaluate(res, args.rows, raw and raw["seconds"])
            res["problems"] = problems_of(res, args.rows)
    report = {
        "rows": args.rows,
        "started_at": started,
        "environment": env,
        "targets": {
            "rows": TARGET_ROWS,
            "records_per_s": TARGET_RECORDS_PER_S,
            "copy_ratio": TARGET_COPY_RATIO,
            "peak_rss_mb": TARGET_PEAK_MB,
        },
        "raw_copy": raw,
        "formats": results,
    }
    (out / f"results-{args.rows}.json").write_text(json.dumps(report, indent=2, default=str))
    print(render(report))
    return 1 if any("error" in r for r in results) else 0


def _formats(value: str) -> list[str]:
    """``--formats``: known formats, comma-separated, in the order given."""
    formats = list(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(FORMATS)}, got {value!r}")
    return formats


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; the hidden options are used by the script's own subprocesses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="records to generate")
    parser.add_argument(
        "--formats", type=_formats, default=list(FORMATS), help="comma-separated formats"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="work folder")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each first load under cProfile (<out>/profile-<format>-usage-<N>.prof)",
    )
    parser.add_argument("--child", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: the benchmark, or one of its subprocesses (``--generate``, ``--child``)."""
    args = parse_args(argv)
    if args.generate:
        write_data_files(args.out, args.rows, args.formats)
        return 0
    if args.child:
        result_path = args.out / f"child-{args.child}.json"
        run_child(args.child, args.source, args.db_url, result_path, args.profile_to)
        return 0
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
