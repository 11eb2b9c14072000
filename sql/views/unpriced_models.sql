-- unpriced_models: models that arrived with no price (price_status 'no_price'), by traffic,
-- so someone can add them (a price file in $COSTSYNC_INBOX/prices/ or the overrides file).
-- Created by migration 0003; portable SQL.
CREATE VIEW unpriced_models AS
SELECT
    provider,
    model,
    COUNT(*) AS requests,
    SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens) AS tokens,
    SUM(CASE WHEN reported_cost_usd IS NULL THEN 1 ELSE 0 END) AS requests_without_cost,
    MIN(usage_date) AS first_day,
    MAX(usage_date) AS last_day
FROM usage_costs
WHERE price_status = 'no_price'
GROUP BY provider, model
