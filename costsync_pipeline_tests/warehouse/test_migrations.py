"""Versioned migrations on SQLite and PostgreSQL: apply, list, roll back, agree with tables.py."""

import subprocess
import sys

import sqlalchemy as sa

from costsync_pipeline.warehouse import migrations
from costsync_pipeline.warehouse import tables as t
from costsync_pipeline.warehouse.engine import make_engine

TABLES = {
    "usage_costs",
    "rejected_records",
    "landed_files",
    "landed_file_days",
    "cost_snapshots",
    "cost_audit_log",
    "landed_file_scopes",
    "model_prices",
    "price_offers",
    "price_metadata",
    "fx_rates",
    "cost_accuracy",
    "pending_recosts",
    "recost_generation",
}
VIEWS = {"daily_cost", "model_prices_current", "unpriced_models"}


def table_names(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {migrations.VERSION_TABLE}


def test_upgrade_status_downgrade_roundtrip(db_url):
    engine = make_engine(db_url)
    assert [m.applied for m in migrations.status(engine)] == [False, False, False]
    migrations.upgrade(engine, "0001")
    assert "cost_snapshots" not in table_names(engine)
    migrations.upgrade(engine)
    assert table_names(engine) >= TABLES
    assert set(sa.inspect(engine).get_view_names()) == VIEWS
    migrations.downgrade(engine, "0002")
    assert "model_prices" not in table_names(engine)
    assert set(sa.inspect(engine).get_view_names()) == {"daily_cost"}
    assert "price_status" not in {c["name"] for c in sa.inspect(engine).get_columns("usage_costs")}
    migrations.downgrade(engine, "0001")
    assert "cost_snapshots" not in table_names(engine)
    assert "daily_cost" not in sa.inspect(engine).get_view_names()
    assert "rows_superseded" not in {
        c["name"] for c in sa.inspect(engine).get_columns("landed_file_days")
    }
    migrations.upgrade(engine)
    status = migrations.status(engine)
    assert status[-1].is_current and all(m.applied for m in status)
    migrations.downgrade(engine, "base")
    assert table_names(engine) == set()
    assert migrations.current_revision(engine) is None
    migrations.ensure_schema(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()


def test_migrated_schema_matches_the_table_definitions(engine):
    inspector = sa.inspect(engine)
    for name in TABLES:
        declared = t.metadata.tables[name]
        actual = {c["name"]: c for c in inspector.get_columns(name)}
        assert set(actual) == {c.name for c in declared.columns}, name
        for col in declared.columns:
            assert actual[col.name]["nullable"] == (col.nullable and not col.primary_key), (
                name,
                col.name,
            )
        pk = inspector.get_pk_constraint(name)["constrained_columns"]
        assert set(pk) == {c.name for c in declared.primary_key.columns}, name


def test_money_is_numeric(engine):
    cols = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("usage_costs")}
    for name in ("reported_cost", "reported_cost_usd", "computed_cost_usd", "cost_usd"):
        assert isinstance(cols[name], sa.Numeric) and not isinstance(cols[name], sa.Float), name
    money = {
        "model_prices": ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok"),
        "fx_rates": ("rate_to_usd",),
        "cost_accuracy": ("reported_cost_usd", "computed_cost_usd", "difference_usd"),
    }
    for table, names in money.items():
        cols = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(table)}
        for name in names:
            assert isinstance(cols[name], sa.Numeric) and not isinstance(cols[name], sa.Float)


def test_concurrent_first_runs_migrate_once(db_url):
    """Separate processes, as Dagster runs are: the advisory lock (PostgreSQL) or the
    wait-and-recheck (SQLite) has to hold, not the in-process lock."""
    script = (
        "import sys\n"
        "from costsync_pipeline.warehouse.engine import make_engine\n"
        "from costsync_pipeline.warehouse.migrations import ensure_schema\n"
        "ensure_schema(make_engine(sys.argv[1]))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, db_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=120)[1].decode()[-2000:] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    engine = make_engine(db_url)
    assert migrations.current_revision(engine) == migrations.head_revision()
    assert table_names(engine) >= TABLES
    engine.dispose()


def test_usage_date_index_is_brin_on_postgres(pg_url):
    engine = make_engine(pg_url)
    migrations.upgrade(engine)
    with engine.connect() as conn:
        method = conn.exec_driver_sql(
            "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
            "WHERE c.relname = 'ix_usage_costs_usage_date'"
        ).scalar_one()
        collation = conn.exec_driver_sql(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'usage_costs' AND column_name = 'request_id'"
        ).scalar_one()
    assert (method, collation) == ("brin", "C")
    engine.dispose()
