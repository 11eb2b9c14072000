import dagster as dg

from costsync_pipeline.defs.set_aside import set_aside_job
from costsync_pipeline.landing.kinds import CLOUD

cloud_job = dg.define_asset_job(
    "cloud_job",
    selection=dg.AssetSelection.groups("cloud"),
    description="Land cloud and GPU billing exports into the daily cost snapshots of a range "
    "of UTC days.",
)

cloud_set_aside_job = set_aside_job(CLOUD)
