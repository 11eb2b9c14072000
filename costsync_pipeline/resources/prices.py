import dagster as dg
from pydantic import Field


class PriceSourcesResource(dg.ConfigurableResource):
    """Where prices and FX rates come from, and how old they may get."""

    feed_url: str = Field(
        description="LiteLLM-format price map (COSTSYNC_PRICE_FEED_URL); 'off' disables it."
    )
    fx_feed_url: str | None = Field(
        default=None, description="ECB-format daily FX rates (COSTSYNC_FX_FEED_URL); optional."
    )
    overrides_path: str = Field(
        description="Negotiated prices (COSTSYNC_PRICE_OVERRIDES); absent file = none."
    )
    staleness_seconds: int = Field(
        description="Prices older than this are refreshed (MODEL_COST_STALENESS_SECONDS)."
    )
