"""Billing's tables, in the `financial` schema (no schema on SQLite): each user's Stripe customer,
subscriptions as Stripe last described them, every webhook event received (stored by id
first, so a duplicate is a no-op) and the ledger: invoices, payments and refunds, in integer minor
units with their currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
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
    status: Mapped[str] = mapped_column(String(32), index=True)
    price_id: Mapped[str] = mapped_column(String(255))
    interval: Mapped[str] = mapped_column(String(16))  # monthly, yearly or "" (unknown price)
    current_period_end: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean)
    # When Stripe described this state (event `created`, or when we read the object).
    state_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # per period, minor units
    currency: Mapped[str] = mapped_column(String(3), default="")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Since when it is past_due (its grace period runs from there); None unless past_due.
    past_due_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


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
    # When the retry loop tries it next; None when processed or out of automatic attempts.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)


class InvoiceRow(Base):
    __tablename__ = "invoices"
    __table_args__ = _IN_SCHEMA

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's in_...
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_id: Mapped[str] = mapped_column(String(255))
    subscription_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    amount_due: Mapped[int] = mapped_column(BigInteger)  # minor units
    amount_paid: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    hosted_invoice_url: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime)
    state_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the event that last described it


class PaymentRow(Base):
    __tablename__ = "payments"
    __table_args__ = _IN_SCHEMA

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's ch_...
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_id: Mapped[str] = mapped_column(String(255))
    invoice_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))  # succeeded or failed
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    amount_refunded: Mapped[int] = mapped_column(BigInteger)  # the sum of its refunds
    currency: Mapped[str] = mapped_column(String(3))
    created: Mapped[datetime] = mapped_column(UtcDateTime)


class RefundRow(Base):
    __tablename__ = "refunds"
    __table_args__ = _IN_SCHEMA

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's re_...
    payment_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UtcDateTime)
