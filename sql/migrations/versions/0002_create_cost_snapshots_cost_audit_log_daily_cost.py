"""create cost_snapshots, cost_audit_log, landed_file_scopes and the daily_cost view

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Money = sa.Numeric(24, 12)
BigMoney = sa.Numeric(28, 12)
Key = sa.String().with_variant(sa.String(collation="C"), "postgresql")
Ts = sa.DateTime(timezone=True)
# The analyst view's definition lives in sql/views/ where analysts read it. A change to it
# needs a new migration that drops and re-creates the view on databases already at 0002.
DAILY_COST_V1 = Path(__file__).resolve().parents[2] / "views" / "daily_cost.sql"


def upgrade() -> None:
    with op.batch_alter_table("landed_file_days") as batch:
        batch.add_column(
            sa.Column("rows_superseded", sa.BigInteger, nullable=False, server_default="0")
        )
        for name in (
            "billed_cost_read",
            "billed_cost_landed",
            "billed_cost_rejected",
            "billed_cost_superseded",
        ):
            batch.add_column(sa.Column(name, BigMoney))
    op.create_table(
        "cost_snapshots",
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
        sa.Column("source_received_at", Ts, nullable=False),
        sa.Column("ingested_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
    )
    op.create_table(
        "cost_audit_log",
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
        sa.Column("changed_at", Ts, nullable=False),
    )
    op.create_index("ix_cost_audit_log_entity_key", "cost_audit_log", ["entity", "entity_key"])
    op.create_table(
        "landed_file_scopes",
        sa.Column("file_checksum", sa.String(64), primary_key=True),
        sa.Column("provider", Key, primary_key=True),
        sa.Column("billing_account_id", Key, primary_key=True),
        sa.Column("billing_period_start", sa.Date, primary_key=True),
        sa.Column("first_date", sa.Date, nullable=False),
        sa.Column("last_date", sa.Date, nullable=False),
        sa.Column("received_at", Ts, nullable=False),
    )
    op.create_index(
        "ix_landed_file_scopes_scope",
        "landed_file_scopes",
        ["provider", "billing_account_id", "billing_period_start"],
    )
    op.execute(DAILY_COST_V1.read_text())


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS daily_cost")
    op.drop_table("landed_file_scopes")
    op.drop_table("cost_audit_log")
    op.drop_table("cost_snapshots")
    with op.batch_alter_table("landed_file_days") as batch:
        for name in (
            "billed_cost_superseded",
            "billed_cost_rejected",
            "billed_cost_landed",
            "billed_cost_read",
            "rows_superseded",
        ):
            batch.drop_column(name)
