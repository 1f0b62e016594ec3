"""Paper trading: instruments (with the per-symbol bar cursor), orders, fills and positions in the
`trading` schema; portfolios, the double-entry cash ledger and equity history in `investment`.

Revision ID: 0008_paper_trading
Revises: 0005_billing
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_paper_trading"
down_revision = "0007_billing_ledger"
branch_labels = None
depends_on = None


def _schemas() -> tuple[str | None, str | None]:
    if op.get_bind().dialect.name == "postgresql":
        return "trading", "investment"
    return None, None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _id(name: str = "id", primary: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(36), primary_key=primary, nullable=False)


def upgrade() -> None:
    trading, investment = _schemas()
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("tick_size", sa.Float, nullable=False),
        sa.Column("lot_size", sa.Integer, nullable=False),
        sa.Column("last_bar_time", sa.BigInteger, nullable=True),
        sa.Column("last_close", sa.Float, nullable=True),
        schema=trading,
    )
    op.create_table(
        "portfolios",
        _id(primary=True),
        sa.Column("user_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cash_minor", sa.BigInteger, nullable=False),
        sa.Column("initial_cash_minor", sa.BigInteger, nullable=False),
        _ts("created_at"),
        schema=investment,
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("portfolio_id", sa.String(36), nullable=False, index=True),
        sa.Column("fill_id", sa.String(36), nullable=True),
        sa.Column("memo", sa.String(200), nullable=False),
        _ts("created_at"),
        schema=investment,
    )
    op.create_table(
        "ledger_lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False, index=True),
        sa.Column("portfolio_id", sa.String(36), nullable=False, index=True),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        schema=investment,
    )
    op.create_table(
        "equity_points",
        sa.Column("portfolio_id", sa.String(36), primary_key=True),
        sa.Column("time", sa.BigInteger, primary_key=True),
        sa.Column("equity_minor", sa.BigInteger, nullable=False),
        schema=investment,
    )
    op.create_table(
        "orders",
        _id(primary=True),
        sa.Column("portfolio_id", sa.String(36), nullable=False, index=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("limit_price", sa.Float, nullable=True),
        sa.Column("stop_price", sa.Float, nullable=True),
        sa.Column("parent_id", sa.String(36), nullable=True, index=True),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("prediction_id", sa.String(64), nullable=True),
        sa.Column("placed_after", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("size_fraction", sa.Float, nullable=True),
        sa.Column("stop_loss_fraction", sa.Float, nullable=True),
        sa.Column("take_profit_fraction", sa.Float, nullable=True),
        sa.Column("fill_price", sa.Float, nullable=True),
        sa.Column("filled_at", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.Column("live", sa.Boolean, nullable=False),
        sa.UniqueConstraint("portfolio_id", "idempotency_key"),
        schema=trading,
    )
    op.create_index("ix_orders_symbol_live", "orders", ["symbol", "live"], schema=trading)
    op.create_table(
        "fills",
        _id(primary=True),
        sa.Column("order_id", sa.String(36), nullable=False, index=True),
        sa.Column("portfolio_id", sa.String(36), nullable=False, index=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("commission_minor", sa.BigInteger, nullable=False),
        sa.Column("bar_time", sa.BigInteger, nullable=False),
        schema=trading,
    )
    op.create_table(
        "positions",
        sa.Column("portfolio_id", sa.String(36), primary_key=True),
        sa.Column("symbol", sa.String(32), primary_key=True, index=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("average_price", sa.Float, nullable=False),
        sa.Column("realised_pnl_minor", sa.BigInteger, nullable=False),
        schema=trading,
    )


def downgrade() -> None:
    trading, investment = _schemas()
    for name in ("positions", "fills"):
        op.drop_table(name, schema=trading)
    op.drop_index("ix_orders_symbol_live", table_name="orders", schema=trading)
    op.drop_table("orders", schema=trading)
    for name in ("equity_points", "ledger_lines", "ledger_entries", "portfolios"):
        op.drop_table(name, schema=investment)
    op.drop_table("instruments", schema=trading)
