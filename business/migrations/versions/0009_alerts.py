"""Alerts: watchlists (`investment` schema); alert rules, fired alerts, each feed's last evaluated
bar and saved backtests (`ml` schema).

Revision ID: 0009_alerts
Revises: 0005_billing
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_alerts"
down_revision = "0008_paper_trading"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _schema(name: str) -> str | None:
    # SQLite (local runs) has no schemas.
    return name if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    investment, ml = _schema("investment"), _schema("ml")
    op.create_table(
        "watchlists",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("symbols", sa.JSON, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        schema=investment,
    )
    op.create_index("ix_investment_watchlists_user_id", "watchlists", ["user_id"], schema=investment)
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("side", sa.String(8), nullable=True),
        sa.Column("min_confidence", sa.Float, nullable=False),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("direction", sa.String(8), nullable=True),
        sa.Column("notify_email", sa.Boolean, nullable=False),
        _ts("created_at"),
        schema=ml,
    )
    op.create_index("ix_ml_alert_rules_user_id", "alert_rules", ["user_id"], schema=ml)
    op.create_index("ix_alert_rules_feed", "alert_rules", ["symbol", "timeframe"], schema=ml)
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("rule_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("bar_time", sa.BigInteger, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        _ts("fired_at"),
        sa.UniqueConstraint("rule_id", "bar_time", name="uq_alerts_rule_bar"),
        schema=ml,
    )
    op.create_index("ix_alerts_user_fired", "alerts", ["user_id", "fired_at"], schema=ml)
    op.create_table(
        "alert_feed_states",
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("timeframe", sa.String(8), primary_key=True),
        sa.Column("bar_time", sa.BigInteger, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("predicted_high", sa.Float, nullable=False),
        sa.Column("predicted_low", sa.Float, nullable=False),
        sa.Column("out_of_range", sa.Boolean, nullable=False),
        schema=ml,
    )
    op.create_table(
        "saved_backtests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        _ts("created_at"),
        schema=ml,
    )
    op.create_index("ix_ml_saved_backtests_user_id", "saved_backtests", ["user_id"], schema=ml)


def downgrade() -> None:
    investment, ml = _schema("investment"), _schema("ml")
    op.drop_table("saved_backtests", schema=ml)
    op.drop_table("alert_feed_states", schema=ml)
    op.drop_table("alerts", schema=ml)
    op.drop_table("alert_rules", schema=ml)
    op.drop_table("watchlists", schema=investment)
