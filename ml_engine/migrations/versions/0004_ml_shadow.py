"""Shadow predictions: which variant of an ensemble made a recorded prediction.

Revision ID: 0004_ml_shadow
Revises: 0003_ml_prediction_intervals
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_ml_shadow"
down_revision = "0003_ml_prediction_intervals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "active": served to users (every row recorded before this revision). "shadow:<model>@<version>":
    # computed with that model's shadow version substituted, scored, never served.
    op.add_column(
        "ml_predictions",
        sa.Column("variant", sa.String(96), nullable=False, server_default="active"),
    )
    op.create_index("ix_ml_predictions_variant", "ml_predictions", ["variant", "symbol", "horizon", "as_of"])


def downgrade() -> None:
    op.drop_index("ix_ml_predictions_variant", table_name="ml_predictions")
    op.drop_column("ml_predictions", "variant")
