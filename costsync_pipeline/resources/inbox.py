import dagster as dg
from pydantic import Field


class InboxResource(dg.ConfigurableResource):
    """Where export files land and where their raw copies are kept (folders or fsspec URLs)."""

    inbox_url: str = Field(description="Folder or fsspec URL holding usage/, cloud/, prices/.")
    raw_zone_url: str = Field(
        description="Folder or fsspec URL for content-addressed copies of every landed file."
    )
