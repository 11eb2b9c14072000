"""Dagster resources: configurable classes only (bindings live in defs/resources.py)."""

from costsync_pipeline.resources.inbox import InboxResource
from costsync_pipeline.resources.prices import PriceSourcesResource
from costsync_pipeline.resources.warehouse import WarehouseResource

__all__ = ["InboxResource", "PriceSourcesResource", "WarehouseResource"]
