"""Blocking checks on usage_costs: bad data does not reach later stages."""

import dagster as dg
import sqlalchemy as sa

from costsync_pipeline.landing.outcomes import WindowResult
from costsync_pipeline.quality.usage import CheckOutcome, usage_checks

USAGE_COSTS_CHECKS = [
    dg.AssetCheckSpec(
        "rows_accounted_for",
        asset="usage_costs",
        blocking=True,
        description="Per file and day: rows read = landed + rejected + duplicates collapsed.",
    ),
    dg.AssetCheckSpec(
        # A warning, not a gate: the good rows of a partly bad file are meant to land.
        "rejection_rate_within_limit",
        asset="usage_costs",
        blocking=False,
        description="At most 5% of the rows read for the partition were rejected.",
    ),
    dg.AssetCheckSpec(
        "stored_rows_valid",
        asset="usage_costs",
        blocking=True,
        description="Stored rows satisfy the normalized rules (tokens, cost, lower-case).",
    ),
    dg.AssetCheckSpec(
        "no_price",
        asset="usage_costs",
        blocking=False,
        description="Every request matched a model price; lists the unpriced models by traffic.",
    ),
]


def check_results(outcomes: list[CheckOutcome]) -> list[dg.AssetCheckResult]:
    """Plain check outcomes as Dagster results: blocking ones fail as errors."""
    return [
        dg.AssetCheckResult(
            check_name=outcome.name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR
            if outcome.blocking
            else dg.AssetCheckSeverity.WARN,
            description=outcome.description,
            metadata=outcome.metadata,
        )
        for outcome in outcomes
    ]


def usage_costs_check_results(engine: sa.Engine, result: WindowResult) -> list[dg.AssetCheckResult]:
    return check_results(usage_checks(engine, result.start, result.end))
