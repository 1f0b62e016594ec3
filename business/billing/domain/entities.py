"""Billing's entities: a user's Stripe customer, the state of their subscription and the ledger
(invoices, payments, refunds: integer minor units with their currency)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from business.billing.domain.plans import FREE, PRO, Interval

# Stripe's subscription statuses that give pro.
PRO_STATUSES = frozenset({"active", "trialing"})
PAST_DUE = "past_due"
# Statuses in which a subscription is still live: it can be cancelled or resumed, and its user is
# sold no second one.
LIVE_STATUSES = frozenset({"trialing", "active", "past_due", "unpaid", "incomplete"})
STATUSES = frozenset(
    {"incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"}
)


@dataclass(frozen=True)
class Customer:
    user_id: str
    stripe_customer_id: str


# A Checkout Session's statuses at Stripe.
CHECKOUT_OPEN, CHECKOUT_COMPLETE, CHECKOUT_EXPIRED = "open", "complete", "expired"


@dataclass(frozen=True)
class Checkout:
    """A Stripe Checkout Session: open (it can be paid), complete (paid: `subscription_id` is the
    subscription it created) or expired."""

    id: str
    status: str
    subscription_id: str = ""


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
    amount_minor: int = 0  # what each period costs
    currency: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    past_due_since: datetime | None = None  # set while past_due: the grace period runs from it

    def grace_ends_at(self, grace: timedelta) -> datetime | None:
        """While past_due: when pro ends unless a payment succeeds."""
        if self.status != PAST_DUE or self.past_due_since is None:
            return None
        return self.past_due_since + grace

    def plan_at(self, now: datetime, grace: timedelta) -> str:
        """pro while active or trialing, and while past_due within the grace period."""
        if self.status in PRO_STATUSES:
            return PRO
        ends = self.grace_ends_at(grace)
        return PRO if ends is not None and now < ends else FREE

    def for_user(self, user_id: str) -> SubscriptionState:
        return replace(self, user_id=user_id)


@dataclass(frozen=True)
class Invoice:
    id: str
    user_id: str
    customer_id: str
    subscription_id: str
    status: str  # draft, open, paid, uncollectible, void
    amount_due: int
    amount_paid: int
    currency: str
    hosted_invoice_url: str
    created: datetime
    state_at: datetime  # when Stripe described it (the event's `created`)


@dataclass(frozen=True)
class Payment:
    id: str  # Stripe's charge (ch_...)
    user_id: str
    customer_id: str
    invoice_id: str
    status: str  # succeeded or failed
    amount: int
    amount_refunded: int  # the sum of its refunds
    currency: str
    created: datetime


@dataclass(frozen=True)
class Refund:
    id: str
    payment_id: str
    user_id: str
    amount: int
    currency: str
    status: str  # pending, succeeded, failed, canceled
    reason: str
    created: datetime


@dataclass(frozen=True)
class Figures:
    active: int
    past_due: int
    mrr_minor: int
    currency: str
    churned: int  # ended within the window
    live_at_window_start: int

    @property
    def churn_rate(self) -> float:
        return self.churned / self.live_at_window_start if self.live_at_window_start else 0.0


@dataclass(frozen=True)
class StoredEvent:
    """A received webhook event and how its processing went (for admins)."""

    id: str
    type: str
    created: datetime
    processed_at: datetime | None
    attempts: int
    last_error: str
    next_attempt_at: datetime | None
