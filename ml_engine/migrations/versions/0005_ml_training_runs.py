"""Training runs of the TrainingService (retraining as an API): one row per run, updated as it moves.

Revision ID: 0005_ml_training_runs
Revises: 0004_ml_shadow
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ml_training_runs"
down_revision = "0004_ml_shadow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ml_training_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        # xgboost, gru or transformer; scalping, intraday, swing or position.
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("horizon", sa.String(16), nullable=False),
        # JSON: symbols, start and end (epoch seconds, end exclusive), folds.
        sa.Column("params", sa.Text, nullable=False),
        # pending, running, succeeded, failed or cancelled.
        sa.Column("state", sa.String(16), nullable=False),
        # JSON: stage, fold, folds, percent, message (the last progress the worker reported).
        sa.Column("progress", sa.Text, nullable=False),
        # The version the run wrote ("" until it succeeded) and the models (JSON list of names).
        sa.Column("produced_version", sa.String(16), nullable=False),
        sa.Column("models", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        # Subject of the admin who started it.
        sa.Column("started_by", sa.String(128), nullable=False),
        # Epoch seconds (UTC).
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("finished_at", sa.Float(53), nullable=True),
    )
    # Engine start: runs left in progress; listings: newest first.
    op.create_index("ix_ml_training_runs_state", "ml_training_runs", ["state"])
    op.create_index("ix_ml_training_runs_created_at", "ml_training_runs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ml_training_runs_created_at", table_name="ml_training_runs")
    op.drop_index("ix_ml_training_runs_state", table_name="ml_training_runs")
    op.drop_table("ml_training_runs")
