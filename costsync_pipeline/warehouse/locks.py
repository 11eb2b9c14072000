"""A named lock held across a whole piece of work, by every process using one warehouse.

PostgreSQL: a session-level advisory lock on a connection of its own. SQLite: an exclusive
``flock`` on a file next to the database (the embedded default is one machine's file).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from costsync_pipeline.warehouse.engine import is_postgres

_LOCAL = threading.Lock()  # threads of one process (flock is per open file, not per thread)
_LOCALS: dict[str, threading.Lock] = {}


def _thread_lock(key: str) -> threading.Lock:
    with _LOCAL:
        return _LOCALS.setdefault(key, threading.Lock())


@contextlib.contextmanager
def exclusive(engine: sa.Engine, name: str) -> Iterator[None]:
    """Hold the lock ``name`` for the duration of the block (waits for other holders)."""
    key = zlib.crc32(f"costsync:{name}".encode())
    if is_postgres(engine):
        with engine.connect() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                conn.commit()
        return
    database = engine.url.database
    with _thread_lock(f"{database}:{name}"):
        if not database or database == ":memory:":
            yield
            return
        path = Path(f"{database}.{name}.lock")
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
