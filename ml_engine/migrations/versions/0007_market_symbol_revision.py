"""A revision per symbol (`market_symbols.revision`), moved by every write of its bars: each engine's
bar clock reads it with the last bar times, so a correction of past bars imported through one
engine reaches the caches of the others.

Revision ID: 0007_market_symbol_revision
Revises: 0006_ml_model_choices
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_market_symbol_revision"
down_revision = "0006_ml_model_choices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("market_symbols", sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("market_symbols") as table:  # SQLite rebuilds the table
        table.drop_column("revision")
