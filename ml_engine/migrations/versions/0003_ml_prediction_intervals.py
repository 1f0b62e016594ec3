"""The calibrated interval served with each prediction, so live scores measure its coverage.

Revision ID: 0003_ml_prediction_intervals
Revises: 0002_ml_predictions
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_ml_prediction_intervals"
down_revision = "0002_ml_predictions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Prices of the interval at the default nominal coverage (NULL: served without calibration, or
    # recorded before this revision), and that nominal coverage (a fraction, for example 0.8).
    op.add_column("ml_predictions", sa.Column("interval_high", sa.Float(53), nullable=True))
    op.add_column("ml_predictions", sa.Column("interval_low", sa.Float(53), nullable=True))
    op.add_column("ml_predictions", sa.Column("interval_coverage", sa.Float(53), nullable=True))


def downgrade() -> None:
    op.drop_column("ml_predictions", "interval_coverage")
    op.drop_column("ml_predictions", "interval_low")
    op.drop_column("ml_predictions", "interval_high")
