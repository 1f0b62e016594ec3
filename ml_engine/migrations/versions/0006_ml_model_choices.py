"""The version an admin chose for each model (an activation, a promotion), read by every engine
process: the others follow it, and a restarted engine loads it before the highest version.

Revision ID: 0006_ml_model_choices
Revises: 0005_ml_training_runs
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ml_model_choices"
down_revision = "0005_ml_training_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ml_model_choices",
        # The model's folder name in the repository (e.g. intraday_gru).
        sa.Column("model", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        # Epoch seconds (UTC).
        sa.Column("chosen_at", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ml_model_choices")
