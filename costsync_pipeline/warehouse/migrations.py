"""Versioned schema migrations (Alembic), run on SQLite and PostgreSQL alike.

``ensure_schema`` is called before the first write of every run, so a fresh database needs no
manual step; ``costsync db status|upgrade|downgrade`` exposes the same runner to operators.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from costsync_pipeline.paths import MIGRATIONS_DIR
from costsync_pipeline.warehouse.engine import is_postgres

VERSION_TABLE = "costsync_schema_version"
# Arbitrary constant: serialises concurrent migrators on one PostgreSQL database.
_PG_LOCK_ID = 0xC05751
# Alembic's command API keeps its context in module globals: one migrator per process.
_ALEMBIC_LOCK = threading.Lock()


@dataclass(frozen=True)
class MigrationStatus:
    revision: str
    description: str
    applied: bool
    is_current: bool


def _config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    return heads[0]


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def _run(engine: sa.Engine, fn) -> None:
    with _ALEMBIC_LOCK, engine.begin() as conn:
        if is_postgres(engine):
            # Two runs starting at once on a fresh database must not both create the tables.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_ID})")
        fn(_config(conn))


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    _run(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: sa.Engine, revision: str) -> None:
    _run(engine, lambda cfg: command.downgrade(cfg, revision))


def ensure_schema(engine: sa.Engine) -> None:
    """Apply pending migrations; a no-op (one query) when the schema is current."""
    if current_revision(engine) == head_revision():
        return
    for attempt in range(5):
        try:
            upgrade(engine)
            return
        except (sa.exc.OperationalError, sa.exc.IntegrityError):
            # SQLite has no advisory lock: another process may be migrating right now.
            time.sleep(0.2 * (attempt + 1))
            if current_revision(engine) == head_revision():
                return
    upgrade(engine)


def status(engine: sa.Engine) -> list[MigrationStatus]:
    """Every known migration, oldest first, and whether it is applied."""
    script = ScriptDirectory.from_config(_config())
    current = current_revision(engine)
    applied: set[str] = set()
    if current is not None:
        applied = {rev.revision for rev in script.iterate_revisions(current, "base")}
    revisions = list(script.walk_revisions())[::-1]
    return [
        MigrationStatus(
            revision=rev.revision,
            description=(rev.doc or "").strip().splitlines()[0] if rev.doc else "",
            applied=rev.revision in applied,
            is_current=rev.revision == current,
        )
        for rev in revisions
    ]
