"""Shared fixtures: a warehouse on SQLite and on the real PostgreSQL, inboxes with real files.

PostgreSQL tests create their own database with a unique name and drop it afterwards. When
the server is unreachable they are skipped locally, but fail when COSTSYNC_REQUIRE_POSTGRES=1
(CI sets it): a missing server is a failure there, not a skip.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from costsync_pipeline.paths import DATA_DIR, SAMPLES_DIR
from costsync_pipeline.warehouse.engine import make_engine
from costsync_pipeline.warehouse.migrations import ensure_schema

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE_USAGE = SAMPLES_DIR / "usage"
SAMPLE_CLOUD = SAMPLES_DIR / "cloud"
# Unmodified copies of the real public samples in ../shared/data (attribution in the folder's
# README): tests must run wherever the repository is cloned.
FOCUS = SAMPLE_CLOUD / "focus_1.0_sample.csv"
AWS_CUR = SAMPLE_CLOUD / "aws_cur_legacy_sample.csv"
AZURE_EA = SAMPLE_CLOUD / "azure_ea_sample.csv"
GPU_EXPORT = SAMPLE_CLOUD / "gpu_cost_export.json"
LITELLM_SNAPSHOT = DATA_DIR / "prices" / "litellm_model_prices.json"
DEFAULT_PRICES = DATA_DIR / "prices" / "default_prices.json"
# Far enough in the future that every sample row is within the partitions.
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
# A receipt time (file mtime) after every sample row and before any real "now" of the tests.
RECEIVED = 1_795_320_000  # 2026-11-22 03:20 UTC


def _postgres_or_skip() -> None:
    try:
        psycopg.connect(PG_ADMIN).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("COSTSYNC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required here and unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    _postgres_or_skip()
    name = f"costsync_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    ensure_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def resources(db_url, inbox):
    """The Dagster resources, bound to the test's warehouse and inbox."""
    from costsync_pipeline.resources import (
        InboxResource,
        PriceSourcesResource,
        WarehouseResource,
    )

    return {
        "warehouse": WarehouseResource(database_url=db_url),
        "inbox": InboxResource(inbox_url=inbox[0], raw_zone_url=inbox[1]),
        # The bundled LiteLLM snapshot stands in for the feed (no network in tests).
        "prices": PriceSourcesResource(
            feed_url=str(LITELLM_SNAPSHOT),
            fx_feed_url=None,
            overrides_path=str(Path(inbox[0]).parent / "price_overrides.json"),
            staleness_seconds=14400,
        ),
    }


@pytest.fixture
def inbox(tmp_path):
    """An empty inbox and raw zone: (inbox_url, raw_zone_url)."""
    (tmp_path / "inbox" / "usage").mkdir(parents=True)
    (tmp_path / "inbox" / "cloud").mkdir(parents=True)
    (tmp_path / "inbox" / "prices").mkdir(parents=True)
    return str(tmp_path / "inbox"), str(tmp_path / "raw")


def drop(
    inbox_url: str,
    source: Path,
    name: str | None = None,
    mtime: float | None = None,
    kind: str = "usage",
) -> Path:
    """Drop a file in the inbox (optionally renamed, with a given mtime)."""
    target = Path(inbox_url) / kind / (name or source.name)
    shutil.copyfile(source, target)
    if mtime is not None:
        os.utime(target, (mtime, mtime))
    return target


def write(
    inbox_url: str,
    name: str,
    content: str | bytes,
    mtime: float | None = None,
    kind: str = "usage",
) -> Path:
    target = Path(inbox_url) / kind / name
    target.write_bytes(content.encode() if isinstance(content, str) else content)
    if mtime is not None:
        os.utime(target, (mtime, mtime))
    return target


def table_fingerprint(engine: sa.Engine, table: str, order_by: str, exclude=()) -> tuple:
    """Row count, SUM of cost where there is one, and a hash of the content."""
    import hashlib

    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order_by}")).mappings().all()
    digest = hashlib.sha256()
    for r in rows:
        digest.update(repr(sorted((k, str(v)) for k, v in r.items() if k not in exclude)).encode())
    total = None
    if rows and "cost_usd" in rows[0]:
        total = sum((r["cost_usd"] for r in rows if r["cost_usd"] is not None), start=0)
    return len(rows), total, digest.hexdigest()


def run_concurrently(fn, times: int) -> list[BaseException]:
    """Call ``fn`` from ``times`` threads at once; return the exceptions they raised."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(times)

    def target():
        barrier.wait()
        try:
            fn()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=target) for _ in range(times)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors
