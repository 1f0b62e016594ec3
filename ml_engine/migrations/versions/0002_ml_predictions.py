"""Served predictions, recorded once each and scored against the bars that followed.

Revision ID: 0002_ml_predictions
Revises: 0001_market_data
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ml_predictions"
down_revision = "0001_market_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ml_predictions",
        # SHA-256 (hex) of what makes a prediction distinct: members (name, version, file hash,
        # weight), feature schema, symbol, horizon and as-of bar.
        sa.Column("id", sa.String(64), primary_key=True),
        # The ensemble that served it ("<horizon>_ensemble") and a short hash of its members.
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("horizon", sa.String(16), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        # Open time of the as-of bar, epoch seconds (UTC), like market_bars.ts.
        sa.Column("as_of", sa.BigInteger, nullable=False),
        sa.Column("lookahead", sa.Integer, nullable=False),
        sa.Column("close", sa.Float(53), nullable=False),
        sa.Column("atr", sa.Float(53), nullable=False),
        sa.Column("predicted_high", sa.Float(53), nullable=False),
        sa.Column("predicted_low", sa.Float(53), nullable=False),
        sa.Column("tp_long", sa.Float(53), nullable=False),
        sa.Column("tp_short", sa.Float(53), nullable=False),
        # JSON list of the members: name, version, file_sha256, target, weight.
        sa.Column("members", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("realized_at", sa.BigInteger, nullable=True),
        sa.Column("realized_high", sa.Float(53), nullable=True),
        sa.Column("realized_low", sa.Float(53), nullable=True),
        sa.Column("tp_long_outcome", sa.Float(53), nullable=True),
        sa.Column("tp_short_outcome", sa.Float(53), nullable=True),
    )
    # The scorer: pending predictions of a series whose lookahead has passed.
    op.create_index(
        "ix_ml_predictions_pending", "ml_predictions", ["realized_at", "symbol", "timeframe", "as_of"]
    )
    # GetPredictionScores: aggregates per model, symbol and horizon.
    op.create_index("ix_ml_predictions_scores", "ml_predictions", ["model", "symbol", "horizon"])


def downgrade() -> None:
    op.drop_index("ix_ml_predictions_scores", table_name="ml_predictions")
    op.drop_index("ix_ml_predictions_pending", table_name="ml_predictions")
    op.drop_table("ml_predictions")
