-- daily_cost: LLM spend (usage_costs) and cloud spend (cost_snapshots) side by side, per UTC
-- day and provider. Amounts in US dollars; rows whose USD value is not known yet (another
-- currency, no FX rate) are counted in the *_without_usd columns instead of being summed.
-- Created by migration 0002; portable SQL (SQLite and PostgreSQL).
CREATE VIEW daily_cost AS
SELECT
    usage_date,
    provider,
    SUM(llm_requests) AS llm_requests,
    SUM(llm_cost_usd) AS llm_cost_usd,
    SUM(llm_requests_without_usd) AS llm_requests_without_usd,
    SUM(cloud_cost_usd) AS cloud_cost_usd,
    SUM(cloud_effective_cost_usd) AS cloud_effective_cost_usd,
    SUM(cloud_rows_without_usd) AS cloud_rows_without_usd,
    SUM(llm_cost_usd) + SUM(cloud_cost_usd) AS total_cost_usd
FROM (
    SELECT
        usage_date,
        provider,
        COUNT(*) AS llm_requests,
        COALESCE(SUM(cost_usd), 0) AS llm_cost_usd,
        SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS llm_requests_without_usd,
        0 AS cloud_cost_usd,
        0 AS cloud_effective_cost_usd,
        0 AS cloud_rows_without_usd
    FROM usage_costs
    GROUP BY usage_date, provider
    UNION ALL
    SELECT
        usage_date,
        provider,
        0,
        0,
        0,
        COALESCE(SUM(billed_cost_usd), 0),
        COALESCE(SUM(effective_cost_usd), 0),
        SUM(CASE WHEN billed_cost_usd IS NULL THEN 1 ELSE 0 END)
    FROM cost_snapshots
    GROUP BY usage_date, provider
) AS parts
GROUP BY usage_date, provider
