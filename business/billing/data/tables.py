"""Billing's tables, in the `financial` schema (no schema on SQLite): each user's Stripe customer,
subscriptions as Stripe last described them, and every webhook event received (stored by id
first, so a duplicate is a no-op)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from business.shared.database import Base, UtcDateTime

SCHEMA = "financial"
_IN_SCHEMA = {"schema": SCHEMA}


class CustomerRow(Base):
    __tablename__ = "customers"
    __table_args__ = _IN_SCHEMA

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    __table_args__ = _IN_SCHEMA

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's sub_...
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    price_id: Mapped[str] = mapped_column(String(255))
    interval: Mapped[str] = mapped_column(String(16))  # monthly, yearly or "" (unknown price)
    current_period_end: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean)
    # When Stripe described this state (event `created`, or when we read the object).
    state_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookEventRow(Base):
    __tablename__ = "webhook_events"
    __table_args__ = _IN_SCHEMA

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's evt_...
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(UtcDateTime)  # Stripe's `created`
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
