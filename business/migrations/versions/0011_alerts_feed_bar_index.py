"""Alerts by feed and bar (`ml.alerts`, index `ix_alerts_feed_bar`): a business replica that sees a bar
another replica evaluated reads what that bar fired, to deliver it live to its own streams.

Revision ID: 0011_alerts_feed_bar_index
Revises: 0010_paper_signal_results
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0011_alerts_feed_bar_index"
down_revision = "0010_paper_signal_results"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    # SQLite (local runs) has no schemas.
    return "ml" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.create_index("ix_alerts_feed_bar", "alerts", ["symbol", "timeframe", "bar_time"], schema=_schema())


def downgrade() -> None:
    op.drop_index("ix_alerts_feed_bar", "alerts", schema=_schema())
