"""The only place that reads the environment: it binds every resource."""

import os
from pathlib import Path

import dagster as dg

from costsync_pipeline.resources import InboxResource, PriceSourcesResource, WarehouseResource
from costsync_pipeline.settings import load_settings


@dg.definitions
def resources() -> dg.Definitions:
    settings = load_settings(os.environ)
    database_url = (
        # Keep a URL that may hold a password out of the UI's resource config.
        dg.EnvVar("COSTSYNC_DATABASE_URL")
        if settings.database_url_from_env
        else settings.database_url
    )
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(database_url=database_url),
            "inbox": InboxResource(
                inbox_url=settings.inbox_url, raw_zone_url=settings.raw_zone_url
            ),
            "prices": PriceSourcesResource(
                feed_url=settings.price_feed_url,
                fx_feed_url=settings.fx_feed_url,
                overrides_path=settings.price_overrides_path,
                staleness_seconds=settings.staleness_seconds,
            ),
        }
    )


def current_settings():
    """Settings for entry points outside Dagster (the ``costsync`` command)."""
    return load_settings(os.environ)


def dagster_home() -> Path:
    """DAGSTER_HOME, or ``.dagster/`` in the working directory (what `make` uses too)."""
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster").resolve()
