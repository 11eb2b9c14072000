-- model_prices_current: the price rows valid now (at most one per provider, model, service
-- tier and long-context threshold). Created by migration 0003; portable SQL.
CREATE VIEW model_prices_current AS
SELECT
    provider,
    model,
    service_tier,
    min_prompt_tokens,
    input_per_mtok,
    output_per_mtok,
    cache_read_per_mtok,
    cache_write_per_mtok,
    cache_write_1h_per_mtok,
    currency,
    valid_from,
    source,
    checked_at,
    version
FROM model_prices
WHERE valid_from <= CURRENT_TIMESTAMP
  AND (valid_to IS NULL OR valid_to > CURRENT_TIMESTAMP)
