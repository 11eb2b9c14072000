"""SQLAlchemy engines for the two supported warehouses: embedded SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

DEFAULT_SQLITE_PATH = Path(".costsync") / "costsync.db"


def default_database_url(cwd: Path | None = None) -> str:
    """The embedded default: an SQLite file under ``.costsync/`` in the working directory."""
    base = (cwd or Path.cwd()) / DEFAULT_SQLITE_PATH
    return f"sqlite:///{base}"


def is_postgres(engine_or_url: sa.Engine | URL | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, sa.Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "postgresql"


def make_engine(database_url: str) -> sa.Engine:
    """Build an engine; fails with a message naming the variable when the URL is unusable."""
    try:
        url = make_url(database_url)
    except sa.exc.ArgumentError as exc:
        raise ValueError(
            f"COSTSYNC_DATABASE_URL is not a valid SQLAlchemy URL: {database_url!r} ({exc})"
        ) from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # SQLAlchemy's recipe: the driver stops issuing BEGIN itself, and we issue
            # BEGIN IMMEDIATE below, so a transaction takes the write lock up front. Without
            # it, two runs that both read before writing deadlock ("database is locked").
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # WAL lets readers go on while a run writes; busy_timeout makes concurrent
            # writers wait for the lock instead of failing.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if backend == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        if url.drivername != "postgresql+psycopg":
            raise ValueError(
                "COSTSYNC_DATABASE_URL must use the psycopg 3 driver "
                f"(postgresql+psycopg://), got {url.drivername!r}"
            )
        # Every session works in UTC, so naive UTC values sent through COPY mean what they say.
        return sa.create_engine(
            url, connect_args={"options": "-c timezone=UTC"}, pool_pre_ping=True
        )
    raise ValueError(
        f"COSTSYNC_DATABASE_URL names an unsupported database {backend!r}: "
        "use sqlite:///path or postgresql+psycopg://user@host/db"
    )
