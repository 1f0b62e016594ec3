"""Billing's ledger: invoices, payments and refunds (integer minor units with their currency);
subscriptions gain their price, start, end and past_due start (the grace period); webhook events
gain the retry loop's next attempt.

Revision ID: 0007_billing_ledger
Revises: 0005_billing
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_billing_ledger"
down_revision = "0006_education_live"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _schema() -> str | None:
    return "financial" if op.get_bind().dialect.name == "postgresql" else None


SUBSCRIPTION_COLUMNS = ("amount_minor", "currency", "started_at", "ended_at", "past_due_since")


def upgrade() -> None:
    schema = _schema()
    with op.batch_alter_table("subscriptions", schema=schema) as table:
        table.add_column(sa.Column("amount_minor", sa.BigInteger, nullable=False, server_default="0"))
        table.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default=""))
        table.add_column(_ts("started_at", nullable=True))
        table.add_column(_ts("ended_at", nullable=True))
        table.add_column(_ts("past_due_since", nullable=True))
    op.create_index("ix_subscriptions_status", "subscriptions", ["status"], schema=schema)
    with op.batch_alter_table("webhook_events", schema=schema) as table:
        table.add_column(_ts("next_attempt_at", nullable=True))
    op.create_index("ix_webhook_events_next_attempt_at", "webhook_events", ["next_attempt_at"], schema=schema)
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("subscription_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount_due", sa.BigInteger, nullable=False),
        sa.Column("amount_paid", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("hosted_invoice_url", sa.Text, nullable=False),
        _ts("created"),
        _ts("state_at"),
        schema=schema,
    )
    op.create_index("ix_invoices_user_id", "invoices", ["user_id"], schema=schema)
    op.create_table(
        "payments",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("invoice_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("amount_refunded", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _ts("created"),
        schema=schema,
    )
    op.create_index("ix_payments_user_id", "payments", ["user_id"], schema=schema)
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("payment_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        _ts("created"),
        schema=schema,
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_index("ix_refunds_payment_id", table_name="refunds", schema=schema)
    op.drop_table("refunds", schema=schema)
    op.drop_index("ix_payments_user_id", table_name="payments", schema=schema)
    op.drop_table("payments", schema=schema)
    op.drop_index("ix_invoices_user_id", table_name="invoices", schema=schema)
    op.drop_table("invoices", schema=schema)
    op.drop_index("ix_webhook_events_next_attempt_at", table_name="webhook_events", schema=schema)
    with op.batch_alter_table("webhook_events", schema=schema) as table:
        table.drop_column("next_attempt_at")
    op.drop_index("ix_subscriptions_status", table_name="subscriptions", schema=schema)
    with op.batch_alter_table("subscriptions", schema=schema) as table:
        for column in SUBSCRIPTION_COLUMNS:
            table.drop_column(column)
