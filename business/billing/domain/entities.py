"""Billing's entities: a user's Stripe customer and the state of their subscription."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from business.billing.domain.plans import FREE, PRO, Interval

# Stripe's subscription statuses that give pro.
PRO_STATUSES = frozenset({"active", "trialing"})
STATUSES = frozenset(
    {"incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"}
)


@dataclass(frozen=True)
class Customer:
    user_id: str
    stripe_customer_id: str


@dataclass(frozen=True)
class SubscriptionState:
    """A subscription as Stripe last described it; `state_at` is when Stripe did (an event's
    `created`, or when we read the object): an older description never replaces a newer one."""

    subscription_id: str
    user_id: str
    customer_id: str
    status: str
    price_id: str
    interval: Interval | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    state_at: datetime

    @property
    def plan(self) -> str:
        return PRO if self.status in PRO_STATUSES else FREE

    def for_user(self, user_id: str) -> SubscriptionState:
        return replace(self, user_id=user_id)
