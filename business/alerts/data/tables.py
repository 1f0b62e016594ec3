"""The alerts feature's tables: watchlists in the `investment` schema; alert rules, fired alerts,
each feed's last evaluated bar and saved backtests in the `ml` schema (no schemas on SQLite)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from business.shared.database import Base, UtcDateTime

WATCHLIST_SCHEMA = "investment"
ALERTS_SCHEMA = "ml"


class WatchlistRow(Base):
    __tablename__ = "watchlists"
    __table_args__ = (
        Index("ix_investment_watchlists_user_id", "user_id"),
        {"schema": WATCHLIST_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertRuleRow(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (
        Index("ix_alert_rules_feed", "symbol", "timeframe"),
        Index("ix_ml_alert_rules_user_id", "user_id"),
        {"schema": ALERTS_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    min_confidence: Mapped[float] = mapped_column(Float)
    level: Mapped[float] = mapped_column(Float)
    direction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    notify_email: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # One firing per rule and bar, whatever happens: the last guard against a double delivery.
        UniqueConstraint("rule_id", "bar_time", name="uq_alerts_rule_bar"),
        Index("ix_alerts_user_fired", "user_id", "fired_at"),
        # What a bar fired on a feed: read by the replicas that did not evaluate it (evaluation.py).
        Index("ix_alerts_feed_bar", "symbol", "timeframe", "bar_time"),
        {"schema": ALERTS_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(36))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    bar_time: Mapped[int] = mapped_column(BigInteger)
    close: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FeedStateRow(Base):
    """The last bar evaluated on each feed, written with that bar's alerts."""

    __tablename__ = "alert_feed_states"
    __table_args__ = {"schema": ALERTS_SCHEMA}  # noqa: RUF012 - SQLAlchemy's declarative form

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    bar_time: Mapped[int] = mapped_column(BigInteger)
    close: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float] = mapped_column(Float)
    predicted_high: Mapped[float] = mapped_column(Float)
    predicted_low: Mapped[float] = mapped_column(Float)
    out_of_range: Mapped[bool] = mapped_column(Boolean)


class SavedBacktestRow(Base):
    __tablename__ = "saved_backtests"
    __table_args__ = (
        Index("ix_ml_saved_backtests_user_id", "user_id"),
        {"schema": ALERTS_SCHEMA},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
