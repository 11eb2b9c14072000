"""``costsync``: run the pipeline in process, and manage the warehouse schema.

costsync run                   land everything pending in the inbox, print a summary
costsync db status             list migrations and which are applied
costsync db upgrade [REV]      apply migrations (default: all)
costsync db downgrade REV      roll back to REV ("base" removes every table)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import warnings

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.warehouse import migrations
from costsync_pipeline.warehouse.engine import make_engine

# The summary below is the output; Dagster's step log stays in the run (and `make dev`).
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _settings():
    from costsync_pipeline.defs.resources import current_settings

    return current_settings()


def _instance() -> dg.DagsterInstance:
    # Runs show up in `make dev` when both use the same DAGSTER_HOME (default .dagster/).
    from costsync_pipeline.defs.resources import dagster_home

    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # Dagster's defaults (SQLite storage in this folder); the file only stops Dagster
        # from warning that there is none. See costsync_pipeline/deploy/ for PostgreSQL.
        config.write_text("# Dagster instance for costsync: default SQLite storage here.\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def cmd_run(args: argparse.Namespace) -> int:
    from costsync_pipeline.definitions import defs as load_defs
    from costsync_pipeline.defs.inbox_sensor import RANGE_END_TAG, RANGE_START_TAG, partition_args
    from costsync_pipeline.landing.kinds import KINDS
    from costsync_pipeline.landing.planning import plan_inbox, run_requests_for
    from costsync_pipeline.landing.prices import pending_recost_days
    from costsync_pipeline.landing.recost import recost_runs
    from costsync_pipeline.summary import price_source_lines, print_summary

    settings = _settings()
    engine = make_engine(settings.database_url)
    migrations.ensure_schema(engine)
    defs = load_defs()
    instance = _instance()
    failed = []

    def execute(job_name: str, label: str, partition_key=None, tags=None, run_config=None):
        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config={**(run_config or {}), **QUIET_LOGS},
            partition_key=partition_key,
            instance=instance,
            tags=tags or {},
            raise_on_error=False,
        )
        status = "ok" if result.success else "FAILED"
        print(f"  {job_name} {label}: {status} (run {result.run_id[:8]})")
        if not result.success:
            failed.append(f"{job_name} {label}")
        return result

    # Prices first, so the usage below is costed with everything known.
    print("costsync run: prices and FX rates")
    execute("prices_job", "all sources")
    for line in price_source_lines(engine):
        print(f"    {line}")
    for kind in KINDS.values():
        plan = plan_inbox(engine, settings.inbox_url, dt.datetime.now(dt.UTC), kind=kind)
        planned = run_requests_for(plan)
        print(
            f"costsync run: {len(plan.new_checksums)} new {kind.name} file(s), "
            f"{len(plan.unreadable)} unreadable, {sum(1 for r in planned if r.partition)} "
            "partition run(s)"
        )
        for run in planned:
            job_name = f"{kind.name}_job" if run.partition else f"{kind.name}_set_aside_job"
            args_ = partition_args(run)
            execute(
                job_name,
                run.label,
                args_["partition_key"],
                {**args_["tags"], "costsync/run_key": run.run_key},
                run.run_config,
            )
    # Days a price or FX change reached (what recost_sensor requests under the daemon).
    recosts = recost_runs(pending_recost_days(engine))
    if recosts:
        print(f"costsync run: re-costing {len(recosts)} range(s) of usage days")
    for run in recosts:
        if run.first == run.last:
            execute("usage_job", f"{run.first} (re-cost)", run.first)
        else:
            tags = {RANGE_START_TAG: run.first, RANGE_END_TAG: run.last}
            execute("usage_job", f"{run.first}..{run.last} (re-cost)", None, tags)
    print_summary(engine, sys.stdout)
    if failed:
        print(f"{len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    engine = make_engine(_settings().database_url)
    if args.action == "status":
        current = migrations.current_revision(engine)
        print(f"database: {engine.url.render_as_string(hide_password=True)}")
        print(f"current: {current or 'none (empty database)'}; head: {migrations.head_revision()}")
        for m in migrations.status(engine):
            mark = "applied" if m.applied else "pending"
            print(
                f"  {m.revision}  {mark:8}  {m.description}{'  <- current' if m.is_current else ''}"
            )
        return 0
    if args.action == "upgrade":
        migrations.upgrade(engine, args.revision or "head")
    elif args.action == "downgrade":
        if not args.revision:
            print("costsync db downgrade needs a revision (e.g. -1 or base)", file=sys.stderr)
            return 2
        migrations.downgrade(engine, args.revision)
    print(f"now at: {migrations.current_revision(engine) or 'base (no tables)'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Beta notices about Dagster's own parameters say nothing to someone running costsync.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    parser = argparse.ArgumentParser(
        prog="costsync", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="land everything pending in the inbox, in process")
    run.set_defaults(func=cmd_run)
    db = sub.add_parser("db", help="schema migrations")
    db.add_argument("action", choices=["status", "upgrade", "downgrade"])
    db.add_argument("revision", nargs="?", help="target revision (upgrade: default head)")
    db.set_defaults(func=cmd_db)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, sa.exc.OperationalError) as exc:
        print(f"costsync: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
