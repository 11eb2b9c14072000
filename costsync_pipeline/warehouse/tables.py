"""The warehouse tables as SQLAlchemy Core objects, for queries and the bulk upsert.

The schema itself is created and evolved by the Alembic migrations in ``sql/migrations``;
a migration is a frozen snapshot, this module is the current shape. A test checks that the
two agree.
"""

import sqlalchemy as sa

# Money: exact decimals with room for large bills and sub-micro-dollar per-token prices.
Money = sa.Numeric(24, 12)
# Bills and their sums: one line item is below 10**12 (a check), a day of a key may add up to more.
BigMoney = sa.Numeric(28, 12)
# Identifiers compare byte-wise on PostgreSQL: no linguistic order is needed, and the primary
# key and ORDER BY of a million-row upsert are ~20% faster than under the database collation.
Key = sa.String().with_variant(sa.String(collation="C"), "postgresql")
UtcTimestamp = sa.DateTime(timezone=True)

metadata = sa.MetaData()

usage_costs = sa.Table(
    "usage_costs",
    metadata,
    sa.Column("request_id", Key, primary_key=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("occurred_at", UtcTimestamp, nullable=False),
    sa.Column("usage_date", sa.Date, nullable=False),
    sa.Column("organization_id", sa.String),
    sa.Column("team_id", sa.String),
    sa.Column("user_id", sa.String),
    sa.Column("workflow_id", sa.String),
    sa.Column("provider", sa.String, nullable=False),
    sa.Column("model", sa.String, nullable=False),
    sa.Column("original_model", sa.String),
    sa.Column("downgraded", sa.Boolean),
    sa.Column("budget_status", sa.String),
    sa.Column("service_tier", sa.String, nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("cache_read_tokens", sa.BigInteger, nullable=False),
    sa.Column("cache_write_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
    sa.Column("reported_cost", Money),
    sa.Column("reported_currency", sa.String(3)),
    sa.Column("reported_cost_usd", Money),
    sa.Column("computed_cost_usd", Money),
    sa.Column("price_version", sa.String),
    sa.Column("cost_usd", Money),
    # Migration 0003: why computed_cost_usd is empty ("priced", "no_price", ...) and where
    # the cost of record came from or why it is empty ("reported", "computed", "no_fx_rate",
    # "no_price"). NULL on rows landed before prices existed, until they are re-costed.
    sa.Column("price_status", sa.String),
    sa.Column("cost_status", sa.String),
    sa.Column("source_file", sa.String(64), nullable=False),
    sa.Column("source_row", sa.BigInteger, nullable=False),
    sa.Column("source_received_at", UtcTimestamp, nullable=False),
    sa.Column("ingested_at", UtcTimestamp, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
    sa.Index("ix_usage_costs_usage_date", "usage_date", postgresql_using="brin"),
)

rejected_records = sa.Table(
    "rejected_records",
    metadata,
    sa.Column("file_checksum", sa.String(64), primary_key=True),
    sa.Column("row_number", sa.BigInteger, primary_key=True),
    sa.Column("stage", sa.String, primary_key=True),
    sa.Column("column", sa.String, primary_key=True),
    sa.Column("check", sa.String, primary_key=True),
    sa.Column("source_file", sa.String, nullable=False),
    sa.Column("partition_date", sa.Date, index=True),
    sa.Column("request_id", sa.String),
    sa.Column("value", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("rejected_at", UtcTimestamp, nullable=False),
)

landed_files = sa.Table(
    "landed_files",
    metadata,
    sa.Column("file_checksum", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("raw_path", sa.String),
    sa.Column("format", sa.String),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("rows_read", sa.BigInteger),
    sa.Column("first_date", sa.Date),
    sa.Column("last_date", sa.Date),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("received_at", UtcTimestamp, nullable=False),
    sa.Column("landed_at", UtcTimestamp, nullable=False),
)

landed_file_days = sa.Table(
    "landed_file_days",
    metadata,
    sa.Column("file_checksum", sa.String(64), primary_key=True),
    sa.Column("usage_date", sa.Date, primary_key=True),
    sa.Column("rows_read", sa.BigInteger, nullable=False),
    sa.Column("rows_landed", sa.BigInteger, nullable=False),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False),
    sa.Column("rows_duplicate", sa.BigInteger, nullable=False),
    # Cloud exports (migration 0002): rows a later export of the same billing period
    # replaced, and the file's billed cost: read = landed + rejected + superseded.
    sa.Column("rows_superseded", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("billed_cost_read", BigMoney),
    sa.Column("billed_cost_landed", BigMoney),
    sa.Column("billed_cost_rejected", BigMoney),
    sa.Column("billed_cost_superseded", BigMoney),
    sa.Column("run_id", sa.String),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
)

cost_snapshots = sa.Table(
    "cost_snapshots",
    metadata,
    sa.Column("usage_date", sa.Date, primary_key=True),
    sa.Column("provider", Key, primary_key=True),
    sa.Column("billing_account_id", Key, primary_key=True),
    sa.Column("sub_account_id", Key, primary_key=True),
    sa.Column("service_name", Key, primary_key=True),
    sa.Column("resource_type", Key, primary_key=True),
    sa.Column("region", Key, primary_key=True),
    sa.Column("charge_category", Key, primary_key=True),
    sa.Column("billing_currency", sa.String(3), nullable=False),
    sa.Column("billed_cost", BigMoney, nullable=False),
    sa.Column("billed_cost_usd", BigMoney),
    sa.Column("effective_cost", BigMoney, nullable=False),
    sa.Column("effective_cost_usd", BigMoney),
    sa.Column("consumed_quantity", BigMoney),
    sa.Column("consumed_unit", sa.String, nullable=False),
    sa.Column("line_items", sa.BigInteger, nullable=False),
    sa.Column("billing_period_start", sa.Date, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("source_file", sa.String(64), nullable=False),
    sa.Column("source_received_at", UtcTimestamp, nullable=False),
    sa.Column("ingested_at", UtcTimestamp, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
)

cost_audit_log = sa.Table(
    "cost_audit_log",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("entity", sa.String, nullable=False),
    sa.Column("entity_key", sa.Text, nullable=False),
    sa.Column("old_cost_usd", BigMoney),
    sa.Column("new_cost_usd", BigMoney),
    sa.Column("old_value", BigMoney),
    sa.Column("new_value", BigMoney),
    sa.Column("currency", sa.String(3)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String),
    sa.Column("source_file", sa.String),
    sa.Column("file_checksum", sa.String(64)),
    sa.Column("changed_at", UtcTimestamp, nullable=False),
    sa.Index("ix_cost_audit_log_entity_key", "entity", "entity_key"),
)

landed_file_scopes = sa.Table(
    "landed_file_scopes",
    metadata,
    sa.Column("file_checksum", sa.String(64), primary_key=True),
    sa.Column("provider", Key, primary_key=True),
    sa.Column("billing_account_id", Key, primary_key=True),
    sa.Column("billing_period_start", sa.Date, primary_key=True),
    sa.Column("first_date", sa.Date, nullable=False),
    sa.Column("last_date", sa.Date, nullable=False),
    sa.Column("received_at", UtcTimestamp, nullable=False),
    sa.Index(
        "ix_landed_file_scopes_scope", "provider", "billing_account_id", "billing_period_start"
    ),
)

# Rates per million tokens: exact decimals, twelve places (LiteLLM's smallest rates are ~1e-5).
Rate = sa.Numeric(24, 12)
# FX: USD per one unit of a currency (1/18.45 for ZAR needs many places to stay exact enough).
FxRate = sa.Numeric(30, 18)

model_prices = sa.Table(
    "model_prices",
    metadata,
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("provider", Key, nullable=False),
    sa.Column("model", Key, nullable=False),
    sa.Column("service_tier", Key, nullable=False),
    sa.Column("min_prompt_tokens", sa.BigInteger, nullable=False),
    sa.Column("input_per_mtok", Rate, nullable=False),
    sa.Column("output_per_mtok", Rate, nullable=False),
    sa.Column("cache_read_per_mtok", Rate),
    sa.Column("cache_write_per_mtok", Rate),
    sa.Column("cache_write_1h_per_mtok", Rate),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("valid_from", UtcTimestamp, nullable=False),
    sa.Column("valid_to", UtcTimestamp),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("checked_at", UtcTimestamp, nullable=False),
    sa.Index(
        "ix_model_prices_key",
        "provider",
        "model",
        "service_tier",
        "min_prompt_tokens",
        "valid_from",
    ),
)

# What each price source offers now (one origin per source; one per file for inbox files):
# model_prices is planned from these under the precedence rules.
price_offers = sa.Table(
    "price_offers",
    metadata,
    sa.Column("origin", sa.String, primary_key=True),
    sa.Column("provider", Key, primary_key=True),
    sa.Column("model", Key, primary_key=True),
    sa.Column("service_tier", Key, primary_key=True),
    sa.Column("min_prompt_tokens", sa.BigInteger, primary_key=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("input_per_mtok", Rate, nullable=False),
    sa.Column("output_per_mtok", Rate, nullable=False),
    sa.Column("cache_read_per_mtok", Rate),
    sa.Column("cache_write_per_mtok", Rate),
    sa.Column("cache_write_1h_per_mtok", Rate),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("effective_from", UtcTimestamp),
    sa.Column("seen_at", UtcTimestamp, nullable=False),
)

price_metadata = sa.Table(
    "price_metadata",
    metadata,
    sa.Column("source", sa.String, primary_key=True),
    sa.Column("location", sa.String),
    sa.Column("last_updated", UtcTimestamp),
    sa.Column("fetched_at", UtcTimestamp),
    sa.Column("model_count", sa.BigInteger),
    sa.Column("checksum", sa.String(64)),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("attempted_at", UtcTimestamp, nullable=False),
)

fx_rates = sa.Table(
    "fx_rates",
    metadata,
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("as_of_date", sa.Date, primary_key=True),
    sa.Column("rate_to_usd", FxRate, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    # Which source wins a day both give: the FX feed (2) > a price file's usd_to_zar (1) >
    # the bundled file (0).
    sa.Column("source_rank", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
)

cost_accuracy = sa.Table(
    "cost_accuracy",
    metadata,
    sa.Column("usage_date", sa.Date, primary_key=True),
    sa.Column("provider", Key, primary_key=True),
    sa.Column("model", Key, primary_key=True),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("compared_requests", sa.BigInteger, nullable=False),
    sa.Column("reported_cost_usd", BigMoney),
    sa.Column("computed_cost_usd", BigMoney),
    sa.Column("difference_usd", BigMoney),
    sa.Column("ratio", sa.Numeric(30, 12)),
    sa.Column("tolerance", sa.Numeric(12, 6), nullable=False),
    sa.Column("within_tolerance", sa.Boolean),
    sa.Column("updated_at", UtcTimestamp, nullable=False),
)

# Usage days whose costs a price or FX change reached: the recost sensor requests their
# usage_costs partitions, and landing a day clears its request.
pending_recosts = sa.Table(
    "pending_recosts",
    metadata,
    sa.Column("usage_date", sa.Date, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_at", UtcTimestamp, nullable=False),
    # From recost_generation: a landing answers only the requests made before it read its
    # prices (it reads the counter first), never one a later price change made.
    sa.Column("generation", sa.BigInteger, nullable=False),
)

recost_generation = sa.Table(
    "recost_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
)
