"""Market data: the symbol catalogue and OHLCV bars keyed by (symbol, timeframe, time).

Revision ID: 0001_market_data
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_market_data"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_symbols",
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("asset_class", sa.String(16), nullable=False),
        sa.Column("tick_size", sa.Float(53), nullable=False),
        sa.Column("quote_currency", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("base_timeframe", sa.String(8), nullable=False),
    )
    op.create_table(
        "market_bars",
        sa.Column("symbol", sa.String(32), sa.ForeignKey("market_symbols.symbol"), primary_key=True),
        sa.Column("timeframe", sa.String(8), primary_key=True),
        sa.Column("ts", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("open", sa.Float(53), nullable=False),
        sa.Column("high", sa.Float(53), nullable=False),
        sa.Column("low", sa.Float(53), nullable=False),
        sa.Column("close", sa.Float(53), nullable=False),
        sa.Column("volume", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("market_bars")
    op.drop_table("market_symbols")
