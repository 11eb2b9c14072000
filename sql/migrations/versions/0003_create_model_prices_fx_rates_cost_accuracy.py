"""create model_prices, price_offers, price_metadata, fx_rates, cost_accuracy, usage_costs
price and cost status, and the model_prices_current and unpriced_models views

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigMoney = sa.Numeric(28, 12)
Rate = sa.Numeric(24, 12)
FxRate = sa.Numeric(30, 18)
Key = sa.String().with_variant(sa.String(collation="C"), "postgresql")
Ts = sa.DateTime(timezone=True)
VIEWS = Path(__file__).resolve().parents[2] / "views"
# A change to a view needs a new migration that drops and re-creates it.
VIEWS_V1 = ("model_prices_current", "unpriced_models")


def _rates() -> list[sa.Column]:
    return [
        sa.Column("input_per_mtok", Rate, nullable=False),
        sa.Column("output_per_mtok", Rate, nullable=False),
        sa.Column("cache_read_per_mtok", Rate),
        sa.Column("cache_write_per_mtok", Rate),
        sa.Column("cache_write_1h_per_mtok", Rate),
        sa.Column("currency", sa.String(3), nullable=False),
    ]


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ too): a batch copy of usage_costs would break the
    # daily_cost view that reads it, and costs a full rewrite of the largest table.
    op.add_column("usage_costs", sa.Column("price_status", sa.String))
    op.add_column("usage_costs", sa.Column("cost_status", sa.String))
    op.create_table(
        "model_prices",
        sa.Column("version", sa.String(32), primary_key=True),
        sa.Column("provider", Key, nullable=False),
        sa.Column("model", Key, nullable=False),
        sa.Column("service_tier", Key, nullable=False),
        sa.Column("min_prompt_tokens", sa.BigInteger, nullable=False),
        *_rates(),
        sa.Column("valid_from", Ts, nullable=False),
        sa.Column("valid_to", Ts),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("checked_at", Ts, nullable=False),
    )
    op.create_index(
        "ix_model_prices_key",
        "model_prices",
        ["provider", "model", "service_tier", "min_prompt_tokens", "valid_from"],
    )
    op.create_table(
        "price_offers",
        sa.Column("origin", sa.String, primary_key=True),
        sa.Column("provider", Key, primary_key=True),
        sa.Column("model", Key, primary_key=True),
        sa.Column("service_tier", Key, primary_key=True),
        sa.Column("min_prompt_tokens", sa.BigInteger, primary_key=True),
        sa.Column("source", sa.String, nullable=False),
        *_rates(),
        sa.Column("effective_from", Ts),
        sa.Column("seen_at", Ts, nullable=False),
    )
    op.create_table(
        "price_metadata",
        sa.Column("source", sa.String, primary_key=True),
        sa.Column("location", sa.String),
        sa.Column("last_updated", Ts),
        sa.Column("fetched_at", Ts),
        sa.Column("model_count", sa.BigInteger),
        sa.Column("checksum", sa.String(64)),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("attempted_at", Ts, nullable=False),
    )
    op.create_table(
        "fx_rates",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("as_of_date", sa.Date, primary_key=True),
        sa.Column("rate_to_usd", FxRate, nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("source_rank", sa.Integer, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
    )
    op.create_table(
        "cost_accuracy",
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
        sa.Column("updated_at", Ts, nullable=False),
    )
    op.create_table(
        "pending_recosts",
        sa.Column("usage_date", sa.Date, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_at", Ts, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "recost_generation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    for view in VIEWS_V1:
        op.execute((VIEWS / f"{view}.sql").read_text())


def downgrade() -> None:
    for view in reversed(VIEWS_V1):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in (
        "recost_generation",
        "pending_recosts",
        "cost_accuracy",
        "fx_rates",
        "price_metadata",
        "price_offers",
        "model_prices",
    ):
        op.drop_table(table)
    op.drop_column("usage_costs", "cost_status")
    op.drop_column("usage_costs", "price_status")
