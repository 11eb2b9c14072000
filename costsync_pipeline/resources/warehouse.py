import dagster as dg
import sqlalchemy as sa
from pydantic import Field, PrivateAttr

from costsync_pipeline.warehouse.engine import make_engine
from costsync_pipeline.warehouse.migrations import ensure_schema


class WarehouseResource(dg.ConfigurableResource):
    """The costsync warehouse (SQLite or PostgreSQL); migrations apply before first use."""

    database_url: str = Field(
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db."
    )
    _engine: sa.Engine | None = PrivateAttr(default=None)

    def get_engine(self) -> sa.Engine:
        if self._engine is None:
            engine = make_engine(self.database_url)
            ensure_schema(engine)
            self._engine = engine
        return self._engine

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
