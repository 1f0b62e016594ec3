"""Billing: each user's Stripe customer, subscriptions as Stripe last described them, and the
webhook events received (stored by id first: a duplicate is a no-op), in the `financial` schema.

Revision ID: 0005_billing
Revises: 0004_education
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_billing"
down_revision = "0004_education"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _schema() -> str | None:
    return "financial" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "customers",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("stripe_customer_id", sa.String(255), nullable=False, unique=True),
        _ts("created_at"),
        schema=schema,
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("price_id", sa.String(255), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        _ts("current_period_end", nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean, nullable=False),
        _ts("state_at"),
        _ts("updated_at"),
        schema=schema,
    )
    op.create_index("ix_subscriptions_user_id", "subscriptions", ["user_id"], schema=schema)
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        _ts("created"),
        _ts("received_at"),
        _ts("processed_at", nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("payload", sa.JSON, nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_table("webhook_events", schema=schema)
    op.drop_index("ix_subscriptions_user_id", table_name="subscriptions", schema=schema)
    op.drop_table("subscriptions", schema=schema)
    op.drop_table("customers", schema=schema)
