"""Checks on cost_snapshots: conservation of rows and billed cost blocks later stages."""

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.defs.usage.checks import check_results
from costsync_pipeline.landing.cloud import CloudWindowResult
from costsync_pipeline.quality.cloud import cloud_checks

COST_SNAPSHOTS_CHECKS = [
    dg.AssetCheckSpec(
        "rows_accounted_for",
        asset="cost_snapshots",
        blocking=True,
        description="Per export and day: line items read = landed + rejected + superseded.",
    ),
    dg.AssetCheckSpec(
        "billed_cost_conserved",
        asset="cost_snapshots",
        blocking=True,
        description="Per export and day, its billed cost = landed + rejected + superseded, and "
        "the stored snapshots add up to what landed, to the cent.",
    ),
    dg.AssetCheckSpec(
        "rejection_rate_within_limit",
        asset="cost_snapshots",
        blocking=False,
        description="At most 5% of the line items read for the window were rejected.",
    ),
    dg.AssetCheckSpec(
        "credits_not_positive",
        asset="cost_snapshots",
        blocking=False,
        description="Credit snapshots are zero or negative (a positive one is kept but flagged).",
    ),
    dg.AssetCheckSpec(
        "usd_value_known",
        asset="cost_snapshots",
        blocking=False,
        description="Snapshots billed in another currency wait for FX rates for a USD value.",
    ),
]


def cost_snapshots_check_results(
    engine: sa.Engine, result: CloudWindowResult
) -> list[dg.AssetCheckResult]:
    return check_results(cloud_checks(engine, result.start, result.end))
