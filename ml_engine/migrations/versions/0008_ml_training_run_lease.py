"""A lease on each training run: the engine supervising it (`engine`), its last heartbeat
(`heartbeat_at`) and a cancel asked through another engine (`cancel_requested`). With two replicas,
a run whose engine is gone is then seen as lost instead of in progress forever, a starting engine
fails only its own runs and lost ones (not the other replica's), and a cancel reaches the run from
either replica.

Revision ID: 0008_ml_training_run_lease
Revises: 0007_market_symbol_revision
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_ml_training_run_lease"
down_revision = "0007_market_symbol_revision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ml_training_runs", sa.Column("engine", sa.String(255), nullable=False, server_default=""))
    op.add_column("ml_training_runs", sa.Column("heartbeat_at", sa.Float(53), nullable=True))
    op.add_column(
        "ml_training_runs",
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("ml_training_runs") as table:  # SQLite rebuilds the table
        table.drop_column("cancel_requested")
        table.drop_column("heartbeat_at")
        table.drop_column("engine")
