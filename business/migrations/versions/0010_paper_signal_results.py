"""Paper signal results: signal orders keep the models (name@version) behind the signal, so results
can be reported per model and version (`trading.orders.signal_models`).

Revision ID: 0010_paper_signal_results
Revises: 0009_alerts
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_paper_signal_results"
down_revision = "0009_alerts"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    # SQLite (local runs) has no schemas.
    return "trading" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.add_column("orders", sa.Column("signal_models", sa.String(1400), nullable=True), schema=_schema())


def downgrade() -> None:
    op.drop_column("orders", "signal_models", schema=_schema())
