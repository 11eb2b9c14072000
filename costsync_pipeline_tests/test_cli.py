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
from costsync_pipeline_tests.conftest import LITELLM_SNAPSHOT, RECEIVED, SAMPLE_USAGE

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
    # No network here: the feed is the bundled snapshot, read as an offline copy.
    env = {"COSTSYNC_DATABASE_URL": db_url, "COSTSYNC_PRICE_FEED_URL": str(LITELLM_SNAPSHOT)}
    out = run(["run"], workdir, env)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "5 new usage file(s), 0 unreadable, 4 partition run(s)" in text
    assert text.count(": ok (run ") == 5  # prices, then four usage days
    assert "    feed: ok, 4551 models" in text
    assert re.search(r"model_prices\s+\d{4,}\s+price versions", text)
    assert "cost of record: 79 reported" in text
    # 78 USD costs plus the EUR one at the bundled ECB rate: 0.0213 x 1.1252 = 0.02396676.
    assert re.search(r"usage_costs\s+79\s+1\.75656376\d* USD", text), text
    assert re.search(r"\s68\s+0\.70284106\d* USD computed", text)  # 11 cohere rows unpriced
    assert "11  cohere/command-r-plus" in text
    assert re.search(r"rejected_records\s+2\n", text)
    assert "1  input_tokens: must not be negative" in text
    assert "1  reported_currency: not an ISO 4217 currency code" in text
    assert (workdir / ".dagster").is_dir()  # runs recorded for `make dev`
    again = run(["run"], workdir, env)
    assert again.returncode == 0
    assert "0 new usage file(s), 0 unreadable, 0 partition run(s)" in again.stdout
    assert re.search(r"usage_costs\s+79\s+1\.75656376\d* USD", again.stdout)
    assert re.search(r"cost_audit_log\s+1\n", again.stdout)  # the corrected re-export only


def test_default_warehouse_is_embedded_sqlite(workdir):
    out = run(["run"], workdir, {})
    assert out.returncode == 0, out.stderr[-3000:]
    assert (workdir / ".costsync" / "costsync.db").exists()
    assert "sqlite:///" in out.stdout


def test_an_unreachable_price_feed_is_reported_and_the_run_goes_on(workdir):
    # A closed port on this machine: the real failure of an offline feed, without waiting.
    env = {"COSTSYNC_PRICE_FEED_URL": "http://127.0.0.1:9/model_prices.json"}
    out = run(["run"], workdir, env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "    feed: failed: GET http://127.0.0.1:9/model_prices.json failed" in out.stdout
    assert "the prices already known stay in force" in out.stdout
    assert "    default: ok, 40 models" in out.stdout  # common traffic is still priced
    assert re.search(r"usage_costs\s+79\s", out.stdout)


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
    assert "now at: 0003" in run(["db", "upgrade"], tmp_path, env).stdout
    after = run(["db", "status"], tmp_path, env).stdout
    assert "0001  applied" in after and "0003  applied" in after
    assert "now at: 0002" in run(["db", "downgrade", "-1"], tmp_path, env).stdout
    assert "now at: base" in run(["db", "downgrade", "base"], tmp_path, env).stdout
    assert "0003  pending" in run(["db", "status"], tmp_path, env).stdout


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
    assert runs == 5 and usage == 79  # the prices run and four usage days
