-- unpriced_models: models whose requests have no computed cost, by traffic, so someone can
-- add a price (a price file in $COSTSYNC_INBOX/prices/ or the overrides file). price_status
-- says why: no_price (no price matches), no_price_at_time (none valid when the request
-- happened), non_usd_price (the price is not in USD), bad_tokens.
-- Created by migration 0003; portable SQL.
CREATE VIEW unpriced_models AS
SELECT
    provider,
    model,
    price_status,
    COUNT(*) AS requests,
    SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens) AS tokens,
    SUM(CASE WHEN reported_cost_usd IS NULL THEN 1 ELSE 0 END) AS requests_without_cost,
    MIN(usage_date) AS first_day,
    MAX(usage_date) AS last_day
FROM usage_costs
WHERE price_status <> 'priced'
GROUP BY provider, model, price_status
