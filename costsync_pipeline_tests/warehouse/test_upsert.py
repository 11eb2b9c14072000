"""The bulk upsert: counts, idempotency, rank guard, and the parallel PostgreSQL path."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse import upsert as up

NOW = pd.Timestamp("2026-11-22T00:00:00Z")


def frame(n: int, *, cost: str = "1.5", rank: int = 1, start: int = 0) -> pd.DataFrame:
    ids = [f"r{i:07d}" for i in range(start, start + n)]
    ts = pd.Series(pd.Timestamp("2026-11-20T10:00:00Z"), index=range(n)).dt.as_unit("us")
    return pd.DataFrame(
        {
            "request_id": ids,
            "source": "test",
            "occurred_at": ts,
            "usage_date": dt.date(2026, 11, 20),
            "provider": "openai",
            "model": "gpt-4o",
            "service_tier": "standard",
            "input_tokens": 10,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "output_tokens": 5,
            "reasoning_tokens": 0,
            "reported_cost": cost,
            "reported_currency": "USD",
            "cost_usd": cost,
            "source_file": "f" * 64,
            "source_row": range(1, n + 1),
            "source_received_at": NOW + pd.Timedelta(seconds=rank),
            "ingested_at": NOW,
            "updated_at": NOW,
        }
    )


def upsert(engine, f):
    return up.upsert_frame(
        engine, t.usage_costs, f, rank_columns=("source_received_at", "source_file", "source_row")
    )


def total(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count(), sa.func.sum(t.usage_costs.c.cost_usd))).one()


def test_insert_update_unchanged_counts(engine):
    assert upsert(engine, frame(10)) == up.UpsertCounts(10, 0, 0)
    assert upsert(engine, frame(10)) == up.UpsertCounts(0, 0, 10)
    changed = frame(10)
    changed.loc[:2, "cost_usd"] = "2.5"
    assert upsert(engine, pd.concat([changed, frame(5, start=10)])) == up.UpsertCounts(5, 3, 7)
    count, cost = total(engine)
    assert count == 15 and float(cost) == pytest.approx(3 * 2.5 + 12 * 1.5)


def test_lower_rank_never_overwrites(engine):
    upsert(engine, frame(3, cost="9", rank=5))
    assert upsert(engine, frame(3, cost="1", rank=1)) == up.UpsertCounts(0, 0, 3)
    assert float(total(engine)[1]) == 27


def test_repeated_keys_in_one_batch_are_refused(engine):
    with pytest.raises(ValueError, match="repeats keys"):
        upsert(engine, pd.concat([frame(2), frame(2)]))


def test_parallel_path_splits_by_key(pg_url, monkeypatch):
    from costsync_pipeline.warehouse.engine import make_engine
    from costsync_pipeline.warehouse.migrations import ensure_schema

    engine = make_engine(pg_url)
    ensure_schema(engine)
    monkeypatch.setattr(up, "PARALLEL_MIN_ROWS", 100)
    monkeypatch.setattr(up, "COPY_CHUNK_ROWS", 333)
    assert upsert(engine, frame(5000)) == up.UpsertCounts(5000, 0, 0)
    assert upsert(engine, frame(5000)) == up.UpsertCounts(0, 0, 5000)
    assert total(engine)[0] == 5000
    engine.dispose()


def test_decimals_survive_exactly(pg_url):
    from decimal import Decimal

    from costsync_pipeline.warehouse.engine import make_engine
    from costsync_pipeline.warehouse.migrations import ensure_schema

    engine = make_engine(pg_url)
    ensure_schema(engine)
    upsert(engine, frame(3, cost="0.000000123456"))
    assert total(engine)[1] == Decimal("0.000000370368")
    engine.dispose()
