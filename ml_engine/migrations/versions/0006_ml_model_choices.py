"""What was chosen for each model, read by every engine process: the version that serves (an
activation, a promotion; a restarted engine loads it before the highest version) and the version in
shadow (StartShadow). The other engines follow both.

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
        # The version that serves (NULL: the highest that can) and when it was chosen (epoch s).
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("chosen_at", sa.Float(53), nullable=True),
        # The newest version the repository held then: a newer one shipped later serves instead.
        sa.Column("newest_then", sa.Integer, nullable=True),
        # The version running in shadow beside it (NULL: none) and since when (epoch s).
        sa.Column("shadow_version", sa.Integer, nullable=True),
        sa.Column("shadow_started_at", sa.Float(53), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ml_model_choices")
