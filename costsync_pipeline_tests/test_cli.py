"""The ``costsync`` command, as `make run`, scripts and CI call it (a real subprocess)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from costsync_pipeline.paths import PROJECT_ROOT
from costsync_pipeline_tests.conftest import RECEIVED, SAMPLE_USAGE

COSTSYNC = Path(sys.executable).parent / "costsync"


def run(args, cwd, env_extra, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTSYNC_", "DAGSTER_"))}
    env.update(env_extra)
    return subprocess.run(
        [COSTSYNC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def workdir(tmp_path):
    inbox = tmp_path / "data" / "inbox" / "usage"
    inbox.mkdir(parents=True)
    # Alphabetical drop order, as `make run` copies them: team_usage.csv (a correction) last.
    for i, f in enumerate(sorted(SAMPLE_USAGE.iterdir())):
        shutil.copy(f, inbox / f.name)
        os.utime(inbox / f.name, (RECEIVED + i, RECEIVED + i))
    return tmp_path


def test_run_lands_the_samples_and_prints_a_summary(workdir, db_url):
    out = run(["run"], workdir, {"COSTSYNC_DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "5 new usage file(s), 0 unreadable, 4 partition run(s)" in text
    assert text.count(": ok (run ") == 4
    assert re.search(r"usage_costs\s+79\s+1\.732597\d* USD", text), text
    assert re.search(r"rejected_records\s+2\n", text)
    assert "1  input_tokens: must not be negative" in text
    assert "1  reported_currency: not an ISO 4217 currency code" in text
    assert (workdir / ".dagster").is_dir()  # runs recorded for `make dev`
    again = run(["run"], workdir, {"COSTSYNC_DATABASE_URL": db_url})
    assert again.returncode == 0
    assert "0 new usage file(s), 0 unreadable, 0 partition run(s)" in again.stdout
    assert re.search(r"usage_costs\s+79\s+1\.732597\d* USD", again.stdout)


def test_default_warehouse_is_embedded_sqlite(workdir):
    out = run(["run"], workdir, {})
    assert out.returncode == 0, out.stderr[-3000:]
    assert (workdir / ".costsync" / "costsync.db").exists()
    assert "sqlite:///" in out.stdout


def test_unreadable_file_is_set_aside_by_run(workdir):
    (workdir / "data" / "inbox" / "usage" / "broken.json").write_text('{"records": [')
    out = run(["run"], workdir, {})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "usage_set_aside_job set aside unreadable files: ok" in out.stdout
    assert (workdir / "data" / "inbox" / "usage" / "failed" / "broken.json.error.txt").exists()
    assert "broken.json: not valid JSON" in out.stdout


def test_db_status_upgrade_downgrade(tmp_path, db_url):
    env = {"COSTSYNC_DATABASE_URL": db_url}
    status = run(["db", "status"], tmp_path, env)
    assert status.returncode == 0 and "0001  pending" in status.stdout
    assert "now at: 0001" in run(["db", "upgrade", "0001"], tmp_path, env).stdout
    assert "now at: 0002" in run(["db", "upgrade"], tmp_path, env).stdout
    after = run(["db", "status"], tmp_path, env).stdout
    assert "0001  applied" in after and "0002  applied" in after
    assert "now at: 0001" in run(["db", "downgrade", "-1"], tmp_path, env).stdout
    assert "now at: base" in run(["db", "downgrade", "base"], tmp_path, env).stdout
    assert "0002  pending" in run(["db", "status"], tmp_path, env).stdout


def test_bad_database_url_is_a_clear_error(tmp_path):
    out = run(["db", "status"], tmp_path, {"COSTSYNC_DATABASE_URL": "oracle://x"})
    assert out.returncode == 2
    assert "COSTSYNC_DATABASE_URL" in out.stderr and "Traceback" not in out.stderr


def test_dagster_storage_on_postgres_with_the_shipped_dagster_yaml(workdir, pg_url):
    """costsync_pipeline/deploy/dagster.yaml puts runs and event logs in PostgreSQL."""
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "costsync_pipeline" / "deploy" / "dagster.yaml", home)
    dagster_pg = pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    out = run(
        ["run"],
        workdir,
        {"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": dagster_pg, "COSTSYNC_DATABASE_URL": pg_url},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        usage = conn.execute("SELECT count(*) FROM usage_costs").fetchone()[0]
    assert runs == 4 and usage == 79
