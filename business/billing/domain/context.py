"""What billing's use cases work with, built by wiring.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from business.audit import domain as audit
from business.audit.domain import Client
from business.billing.domain.entities import SubscriptionState
from business.billing.domain.plans import FREE, PLAN_IDS, Plan
from business.billing.domain.ports import BillingUnitOfWork, PaymentProvider, TokenRevocations, Transactions
from service_runtime.errors import FailedPrecondition


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Billing:
    plans: tuple[Plan, ...]
    configured: bool  # Stripe keys and prices are set: plans can be bought
    transactions: Transactions | None = None
    provider: PaymentProvider | None = None
    revocations: TokenRevocations | None = None  # a plan change revokes the user's older tokens
    web_url: str = "http://localhost:8080"  # where Checkout and the portal send the browser back
    clock: Callable[[], datetime] = utcnow
    # A past_due subscription keeps pro this long after it became past_due.
    past_due_grace: timedelta = timedelta(days=3)
    # A failed webhook event is tried again after retry_base, doubling up to retry_cap, at most
    # max_attempts times in all (then only an admin's retry).
    retry_base: timedelta = timedelta(seconds=30)
    retry_cap: timedelta = timedelta(hours=6)
    max_attempts: int = 10

    def next_attempt(self, attempts: int) -> datetime | None:
        """When a failed event is tried next after `attempts` failures (None: no more)."""
        if attempts >= self.max_attempts:
            return None
        return self.now() + min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_cap)

    def plan_of(self, state: SubscriptionState | None) -> str:
        """The plan a subscription gives now (free without one)."""
        return state.plan_at(self.now(), self.past_due_grace) if state is not None else FREE

    def best_plan(self, states: Iterable[SubscriptionState]) -> str:
        """The best plan any of the subscriptions gives now (free without one)."""
        return max((self.plan_of(state) for state in states), key=PLAN_IDS.index, default=FREE)

    def now(self) -> datetime:
        return self.clock()

    def stripe(self) -> tuple[Transactions, PaymentProvider]:
        """The store and the provider; FAILED_PRECONDITION when billing is not configured."""
        if not self.configured or self.transactions is None or self.provider is None:
            raise FailedPrecondition("billing is not configured (no Stripe keys): an admin sets plans")
        return self.transactions, self.provider

    def record(self, uow: BillingUnitOfWork, action: str, client: Client, **fields: Any) -> None:
        """An audit entry, dated now, in the unit of work's transaction."""
        audit.record(uow.audit, self.now(), action, client, **fields)
