"""What a cloud billing export format module provides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from costsync_pipeline.sources.formats import ExportFormat

# The FOCUS vocabulary every format maps its line items to before they roll up.
LINE_ITEM_COLUMNS = (
    "ProviderName",
    "BillingAccountId",
    "SubAccountId",
    "ServiceName",
    "ResourceType",  # for GPU line items the GPU type, lower-case (a100, h100)
    "RegionId",
    "ChargeCategory",  # Usage, Purchase, Tax, Credit, Adjustment
    "BillingCurrency",
    "BilledCost",
    "EffectiveCost",
    "ConsumedQuantity",
    "ConsumedUnit",
    "BillingPeriodStart",  # UTC timestamps; NaT when the export has no billing period
)
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")


@dataclass(frozen=True, kw_only=True)
class CloudFormat(ExportFormat):
    """A cloud or GPU billing export format.

    ``to_line_items`` maps rows that passed ``raw_schema`` to ``LINE_ITEM_COLUMNS`` (missing
    ones as NA). ``timestamp_column`` is the start of each line item's charge period: a line
    item counts on the UTC day it starts. ``cost_column`` is the billed cost as the file
    writes it: the file's own sum of it is what landed and rejected rows must add up to.
    """

    key_column: str | None = None
    cost_column: str
    # True when a repeated key in one file is a correction (seed 001's GPU export), not a
    # second charge: the later record wins and the earlier one counts as superseded.
    one_record_per_key: bool = False
    to_line_items: Callable[[pd.DataFrame], pd.DataFrame]
