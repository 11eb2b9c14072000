import dagster as dg

prices_job = dg.define_asset_job(
    "prices_job",
    selection=dg.AssetSelection.groups("prices"),
    description="Read every price and FX source and update model_prices and fx_rates.",
)
