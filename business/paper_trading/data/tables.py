"""Paper trading's tables: orders, fills, positions and instruments (with the per-symbol bar cursor)
in the `trading` schema; portfolios, the cash ledger and equity history in `investment` (no schema
on SQLite). Money in integer minor units; prices as floats (the fill model's arithmetic)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from business.shared.database import Base, UtcDateTime

TRADING = {"schema": "trading"}
INVESTMENT = {"schema": "investment"}


class InstrumentRow(Base):
    __tablename__ = "instruments"
    __table_args__ = TRADING

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    tick_size: Mapped[float] = mapped_column(Float)
    lot_size: Mapped[int] = mapped_column(Integer)
    # The restart cursor: the last bar processed, moved in the transaction that stored its fills.
    last_bar_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_close: Mapped[float | None] = mapped_column(Float, nullable=True)


class PortfolioRow(Base):
    __tablename__ = "portfolios"
    __table_args__ = INVESTMENT

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    # The cash account's balance, kept with every ledger entry (a test reconciles the two).
    cash_minor: Mapped[int] = mapped_column(BigInteger)
    initial_cash_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerEntryRow(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = INVESTMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[str] = mapped_column(String(36), index=True)
    fill_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    memo: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LedgerLineRow(Base):
    __tablename__ = "ledger_lines"
    __table_args__ = INVESTMENT

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(Integer, index=True)
    portfolio_id: Mapped[str] = mapped_column(String(36), index=True)
    account: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # debit positive, credit negative


class EquityPointRow(Base):
    __tablename__ = "equity_points"
    __table_args__ = INVESTMENT

    portfolio_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    time: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    equity_minor: Mapped[int] = mapped_column(BigInteger)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("portfolio_id", "idempotency_key"),
        Index("ix_orders_symbol_live", "symbol", "live"),
        TRADING,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    portfolio_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(BigInteger)
    time_in_force: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(BigInteger)
    limit_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    stop_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prediction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Signal orders: the models behind the signal, "name@version" joined by "," (0010).
    signal_models: Mapped[str | None] = mapped_column(String(1400), nullable=True)
    placed_after: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    size_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    stop_loss_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    take_profit_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    fill_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    filled_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Live orders of a symbol are what each bar reads: (symbol, live) is indexed.
    live: Mapped[bool] = mapped_column(Boolean)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = TRADING

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(36), index=True)
    portfolio_id: Mapped[str] = mapped_column(String(36), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[float] = mapped_column(Float)
    commission_minor: Mapped[int] = mapped_column(BigInteger)
    bar_time: Mapped[int] = mapped_column(BigInteger)


class PositionRow(Base):
    __tablename__ = "positions"
    __table_args__ = TRADING

    portfolio_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    average_price: Mapped[float] = mapped_column(Float)
    realised_pnl_minor: Mapped[int] = mapped_column(BigInteger)
