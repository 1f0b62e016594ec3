"""What billing needs from outside: the payment provider (Stripe) and its tables, one unit of
work per transaction. Repositories never commit on their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from business.audit.domain import AuditLog
from business.billing.domain.entities import Customer, SubscriptionState
from business.billing.domain.stripe_objects import StripeEvent

T = TypeVar("T")


class PaymentProvider(Protocol):
    async def create_customer(self, user_id: str, email: str) -> str:
        """A new customer's id; the same id again for the same user (idempotent per user)."""
        ...

    async def create_checkout_session(
        self, customer_id: str, price_id: str, user_id: str, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """(session id, URL) of a Checkout Session in subscription mode."""
        ...

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """The URL of a billing portal session."""
        ...

    async def set_cancel_at_period_end(self, subscription_id: str, cancel: bool) -> SubscriptionState:
        """The subscription after the change."""
        ...

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState:
        """The subscription as the provider has it now."""
        ...


class TokenRevocations(Protocol):
    async def revoke_subject(self, subject: str) -> None:
        """Every access token of the subject issued until now stops working."""
        ...


class Customers(Protocol):
    def of_user(self, user_id: str) -> Customer | None: ...

    def add(self, customer: Customer) -> Customer:
        """Stores it unless the user has one already; returns the one stored."""
        ...

    def email_of(self, user_id: str) -> str | None:
        """The account's email; None when there is no such account."""
        ...

    def user_of(self, stripe_customer_id: str) -> str | None:
        """The user whose customer this is; None when unknown."""
        ...


class Accounts(Protocol):
    def set_plan(self, user_id: str, plan: str) -> str | None:
        """Sets the account's plan; the plan it had before (None: no such account)."""
        ...


# What storing an event found: first time, seen but not processed yet, processed before.
NEW, PENDING, PROCESSED = "new", "pending", "processed"


class WebhookEvents(Protocol):
    def add(self, event: StripeEvent, received_at: datetime) -> str:
        """Stores the event unless its id is known; NEW, PENDING or PROCESSED."""
        ...

    def processed(self, event_id: str, at: datetime) -> None: ...

    def failed(self, event_id: str, error: str) -> None:
        """One more failed attempt, with its error (for admins)."""
        ...


class Subscriptions(Protocol):
    def current_of(self, user_id: str) -> SubscriptionState | None:
        """The user's newest subscription, None when they never had one."""
        ...

    def get(self, subscription_id: str, *, for_update: bool = False) -> SubscriptionState | None: ...

    def save(self, state: SubscriptionState) -> None: ...


class BillingUnitOfWork(Protocol):
    """The repositories billing's use cases use, over ONE transaction."""

    @property
    def customers(self) -> Customers: ...

    @property
    def subscriptions(self) -> Subscriptions: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def events(self) -> WebhookEvents: ...

    @property
    def audit(self) -> AuditLog: ...


class Transactions(Protocol):
    async def run(self, work: Callable[[BillingUnitOfWork], T]) -> T:
        """`work(unit_of_work)` in one transaction: committed if it returns, rolled back if it raises."""
        ...
