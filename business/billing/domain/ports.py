"""What billing needs from outside: the payment provider (Stripe) and its tables, one unit of
work per transaction. Repositories never commit on their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from business.audit.domain import AuditLog
from business.billing.domain.entities import (
    Checkout,
    Customer,
    Figures,
    Invoice,
    Payment,
    Refund,
    StoredEvent,
    SubscriptionState,
)
from business.billing.domain.stripe_objects import StripeEvent

T = TypeVar("T")
# How many of a customer's newest Checkout Sessions a checkout looks at (Stripe's default page):
# each checkout expires the open ones, so an open one is always among the newest.
RECENT_CHECKOUTS = 10


class PaymentProvider(Protocol):
    async def create_customer(self, user_id: str, email: str) -> str:
        """A new customer's id; the same id again for the same user (idempotent per user)."""
        ...

    async def create_checkout_session(
        self, customer_id: str, price_id: str, user_id: str, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """(session id, URL) of a Checkout Session in subscription mode."""
        ...

    async def recent_checkouts(self, customer_id: str) -> list[Checkout]:
        """The customer's newest Checkout Sessions (at most RECENT_CHECKOUTS), newest first."""
        ...

    async def expire_checkout(self, session_id: str) -> Checkout:
        """Expires an open session, so that it can no longer be paid; the session afterwards
        (complete when it was paid first)."""
        ...

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """The URL of a billing portal session."""
        ...

    async def set_cancel_at_period_end(self, subscription_id: str, cancel: bool) -> SubscriptionState:
        """The subscription after the change."""
        ...

    async def cancel_subscription(self, subscription_id: str) -> SubscriptionState:
        """Cancels the subscription at once (not at the period's end); the subscription after."""
        ...

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState:
        """The subscription as the provider has it now."""
        ...

    async def change_price(self, subscription_id: str, price_id: str) -> SubscriptionState:
        """The subscription moved to `price_id`, prorated; the subscription after the change."""
        ...

    async def create_refund(self, payment_id: str, amount: int, reason: str, idempotency_key: str) -> Refund:
        """A refund of `amount` (minor units) of the charge; user_id left empty."""
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

    def plan_of(self, user_id: str) -> str | None:
        """The account's plan; None when there is no such account."""
        ...


# What storing an event found: first time, seen but not processed yet, processed before.
NEW, PENDING, PROCESSED = "new", "pending", "processed"


class WebhookEvents(Protocol):
    def add(self, event: StripeEvent, received_at: datetime) -> str:
        """Stores the event unless its id is known; NEW, PENDING or PROCESSED."""
        ...

    def processed(self, event_id: str, at: datetime) -> None: ...

    def failed(self, event_id: str, error: str, next_attempt: Callable[[int], datetime | None]) -> None:
        """One more failed attempt, with its error (for admins); the retry loop tries it again at
        next_attempt(attempts so far), or never when that is None."""
        ...

    def get(self, event_id: str) -> StoredEvent | None: ...

    def payload_of(self, event_id: str) -> dict[str, Any] | None:
        """The event as Stripe sent it."""
        ...

    def claim_due(
        self, now: datetime, limit: int, stranded_before: datetime, lease_until: datetime
    ) -> list[str]:
        """Unprocessed events whose next attempt is due, and those never attempted that were
        received before `stranded_before` (the process stopped between storing and applying
        them), oldest first; claimed until `lease_until` (their next attempt, should this
        process stop before recording the outcome), so that another sweep leaves them alone."""
        ...

    def listed(self, include_processed: bool, limit: int) -> list[StoredEvent]:
        """Newest first; only failed unprocessed ones unless include_processed."""
        ...


class Subscriptions(Protocol):
    def current_of(self, user_id: str) -> SubscriptionState | None:
        """The user's subscription: a live one first (LIVE_STATUSES), the most recently described
        (state_at) among equals; None when they never had one."""
        ...

    def of_user(self, user_id: str) -> list[SubscriptionState]:
        """All of the user's subscriptions, ended ones included."""
        ...

    def get(self, subscription_id: str, *, for_update: bool = False) -> SubscriptionState | None: ...

    def save(self, state: SubscriptionState) -> None: ...

    def past_due_pro_users(self, since_before: datetime) -> list[str]:
        """Users still on pro whose subscription has been past_due since before `since_before`."""
        ...

    def figures(self, now: datetime, window_start: datetime) -> Figures:
        """Active and past_due counts, MRR, and churn since window_start (docs/billing.md)."""
        ...


class Ledger(Protocol):
    """Invoices, payments and refunds, keyed by Stripe's ids (saving again replaces). Two
    transactions storing the same new id at once (invoice.paid and charge.succeeded for one charge):
    the later one raises Aborted, and its use case runs again, finding the row."""

    def save_invoice(self, invoice: Invoice) -> None:
        """Stores it unless a newer description (state_at) is stored."""
        ...

    def save_payment(self, payment: Payment) -> None:
        """Stores it; amount_refunded stays the sum of its stored refunds."""
        ...

    def save_refund(self, refund: Refund) -> None:
        """Stores it and brings its payment's amount_refunded up to date."""
        ...

    def payment(self, payment_id: str, *, for_update: bool = False) -> Payment | None: ...

    def invoices_of(self, user_id: str, limit: int) -> list[Invoice]: ...

    def payments_of(self, user_id: str, limit: int) -> list[Payment]: ...

    def refunds_of(self, user_id: str, limit: int) -> list[Refund]: ...


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
    def ledger(self) -> Ledger: ...

    @property
    def audit(self) -> AuditLog: ...


class Transactions(Protocol):
    async def run(self, work: Callable[[BillingUnitOfWork], T]) -> T:
        """`work(unit_of_work)` in one transaction: committed if it returns, rolled back if it raises."""
        ...
