import dagster as dg

from costsync_pipeline.defs.set_aside import set_aside_job
from costsync_pipeline.landing.kinds import USAGE

usage_job = dg.define_asset_job(
    "usage_job",
    selection=dg.AssetSelection.groups("usage"),
    description="Land, validate and normalize the usage exports of one UTC day (or a range).",
)

usage_set_aside_job = set_aside_job(USAGE)
