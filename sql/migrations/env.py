"""Alembic environment: costsync passes its own connection in ``config.attributes``."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - costsync always passes a connection
    raise RuntimeError("run migrations through `costsync db ...`, which passes the connection")

context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="costsync_schema_version",
)
with context.begin_transaction():
    context.run_migrations()
