"""The plan a user's subscriptions give: the best of them now, whichever was described last."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from business.billing.domain.context import Billing
from business.billing.domain.entities import SubscriptionState
from business.billing.domain.plans import FREE, PRO, Interval

NOW = datetime(2025, 6, 1, tzinfo=UTC)
ACTIVE = SubscriptionState(
    subscription_id="sub_live",
    user_id="u1",
    customer_id="cus_1",
    status="active",
    price_id="price_m",
    interval=Interval.MONTHLY,
    current_period_end=NOW + timedelta(days=20),
    cancel_at_period_end=False,
    state_at=NOW - timedelta(days=10),
)


def test_the_best_plan_of_all_subscriptions_wins_over_the_newest() -> None:
    billing = Billing(plans=(), configured=False, clock=lambda: NOW, past_due_grace=timedelta(days=3))
    ended_later = replace(ACTIVE, subscription_id="sub_old", status="canceled", state_at=NOW)
    assert billing.best_plan([ended_later, ACTIVE]) == billing.best_plan([ACTIVE, ended_later]) == PRO
    assert billing.best_plan([ended_later]) == billing.best_plan([]) == FREE
    past_due = replace(ACTIVE, status="past_due", past_due_since=NOW - timedelta(days=1))
    assert billing.best_plan([ended_later, past_due]) == PRO  # within the grace
    assert billing.best_plan([replace(past_due, past_due_since=NOW - timedelta(days=4))]) == FREE
