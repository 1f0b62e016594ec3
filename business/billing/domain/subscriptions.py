"""A user's subscription: checkout (their Stripe customer created once and reused; their other
open Checkout Sessions expired, so that only the newest can be paid), the billing portal,
cancelling at period end and resuming, switching monthly <-> yearly (prorated). Stripe is called
outside any transaction; what it answers is stored, with its audit row, in one."""

from __future__ import annotations

from dataclasses import dataclass, replace

from business.audit.domain import Client
from business.billing.domain.context import Billing
from business.billing.domain.entities import (
    CHECKOUT_COMPLETE,
    CHECKOUT_OPEN,
    LIVE_STATUSES,
    PAST_DUE,
    Customer,
    Invoice,
    SubscriptionState,
)
from business.billing.domain.plans import PRO, Interval, Price, price_of
from business.billing.domain.ports import BillingUnitOfWork, PaymentProvider, Transactions
from service_runtime.caller import Caller
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound


async def current_subscription(billing: Billing, caller: Caller) -> SubscriptionState | None:
    if billing.transactions is None:
        return None
    return await billing.transactions.run(lambda uow: uow.subscriptions.current_of(caller.subject))


@dataclass(frozen=True)
class Overview:
    """What the billing page shows, read in one transaction."""

    subscription: SubscriptionState | None
    invoices: list[Invoice]
    # The account's plan, whatever gave it: an administrator can make an account pro with no
    # subscription behind it, and the page must not then offer pro as if it were free.
    account_plan: str


async def overview_of(billing: Billing, caller: Caller, invoice_limit: int = 24) -> Overview:
    if billing.transactions is None:  # billing not configured: no store, the token's plan
        return Overview(None, [], caller.plan)

    def read(uow: BillingUnitOfWork) -> Overview:
        return Overview(
            uow.subscriptions.current_of(caller.subject),
            uow.ledger.invoices_of(caller.subject, invoice_limit),
            uow.accounts.plan_of(caller.subject) or caller.plan,
        )

    return await billing.transactions.run(read)


async def _customer(transactions: Transactions, provider: PaymentProvider, user_id: str) -> Customer:
    """The user's Stripe customer, created on first need (the provider call is idempotent per
    user, and the store keeps the first one should two requests race)."""

    def known(uow: BillingUnitOfWork) -> tuple[Customer | None, str | None]:
        return uow.customers.of_user(user_id), uow.customers.email_of(user_id)

    customer, email = await transactions.run(known)
    if customer is not None:
        return customer
    if email is None:
        raise NotFound("no such account")
    created = Customer(user_id, await provider.create_customer(user_id, email))
    return await transactions.run(lambda uow: uow.customers.add(created))


async def start_checkout(
    billing: Billing, caller: Caller, interval: Interval, client: Client
) -> tuple[str, str]:
    """(session id, URL) of a Checkout Session for pro at `interval`. The caller's other open
    sessions are expired first: two tabs never make two subscriptions."""
    transactions, provider = billing.stripe()
    price = _pro_price(billing, interval)
    current = await current_subscription(billing, caller)
    if current is not None and current.status in LIVE_STATUSES:
        raise FailedPrecondition("you already have a subscription: change it in the billing portal")
    customer = await _customer(transactions, provider, caller.subject)
    expired = await _close_open_checkouts(billing, customer)
    session_id, url = await provider.create_checkout_session(
        customer.stripe_customer_id,
        price.stripe_price_id,
        caller.subject,
        success_url=f"{billing.web_url}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{billing.web_url}/pricing?checkout=cancelled",
    )

    def audit(uow: BillingUnitOfWork) -> None:
        billing.record(
            uow,
            "billing.checkout.started",
            client,
            actor_id=caller.subject,
            subject_id=caller.subject,
            detail={
                "session_id": session_id,
                "interval": interval.value,
                "customer_id": customer.stripe_customer_id,
                "expired_session_ids": expired,
            },
        )

    await transactions.run(audit)
    return session_id, url


def _pro_price(billing: Billing, interval: Interval) -> Price:
    price = price_of(billing.plans, PRO, interval)
    if price is None or not price.purchasable:
        raise InvalidArgument.field("interval", f"pro is not sold {interval.value} here")
    return price


async def _close_open_checkouts(billing: Billing, customer: Customer) -> list[str]:
    """Expires the customer's open Checkout Sessions at Stripe (the ids expired). Refuses when one
    was paid but its subscription is not known here yet (its webhooks are on their way): a new
    session could be paid too, a second subscription."""
    transactions, provider = billing.stripe()
    recent = await provider.recent_checkouts(customer.stripe_customer_id)
    closed = [await provider.expire_checkout(c.id) for c in recent if c.status == CHECKOUT_OPEN]
    paid = [
        c.subscription_id for c in [*recent, *closed] if c.status == CHECKOUT_COMPLETE and c.subscription_id
    ]

    def unknown(uow: BillingUnitOfWork) -> list[str]:
        return [s for s in paid if uow.subscriptions.get(s) is None]

    if paid and await transactions.run(unknown):
        raise FailedPrecondition(
            "your other checkout was just paid: your subscription starts as soon as Stripe confirms it"
        )
    return [c.id for c in closed if c.status != CHECKOUT_COMPLETE]


async def open_portal(billing: Billing, caller: Caller) -> str:
    transactions, provider = billing.stripe()
    customer = await transactions.run(lambda uow: uow.customers.of_user(caller.subject))
    if customer is None:
        raise FailedPrecondition("you have no billing account yet: subscribe first")
    return await provider.create_portal_session(customer.stripe_customer_id, f"{billing.web_url}/billing")


async def set_cancel_at_period_end(
    billing: Billing, caller: Caller, cancel: bool, client: Client
) -> SubscriptionState:
    """Cancels at period end (cancel) or resumes; an unchanged flag is no change."""
    _, provider = billing.stripe()
    current = await current_subscription(billing, caller)
    if current is None or current.status not in LIVE_STATUSES:
        raise FailedPrecondition("you have no subscription to " + ("cancel" if cancel else "resume"))
    if current.cancel_at_period_end == cancel:
        return current
    changed = await provider.set_cancel_at_period_end(current.subscription_id, cancel)
    return await _store_change(
        billing,
        _Change(
            "billing.subscription.cancel_at_period_end" if cancel else "billing.subscription.resumed",
            {"cancel_at_period_end": current.cancel_at_period_end},
            {"cancel_at_period_end": changed.cancel_at_period_end},
        ),
        replace(changed, user_id=caller.subject),
        caller,
        client,
    )


async def change_interval(
    billing: Billing, caller: Caller, interval: Interval, client: Client
) -> SubscriptionState:
    """Moves the subscription to pro's price at `interval`, prorated; the same interval: no change."""
    _, provider = billing.stripe()
    price = _pro_price(billing, interval)
    current = await current_subscription(billing, caller)
    if current is None or current.status not in LIVE_STATUSES:
        raise FailedPrecondition("you have no subscription to change")
    if current.interval == interval:
        return current
    changed = await provider.change_price(current.subscription_id, price.stripe_price_id)
    return await _store_change(
        billing,
        _Change(
            "billing.subscription.interval_changed",
            {"interval": current.interval.value if current.interval else "", "price_id": current.price_id},
            {"interval": interval.value, "price_id": changed.price_id},
        ),
        replace(changed, user_id=caller.subject),
        caller,
        client,
    )


@dataclass(frozen=True)
class _Change:
    action: str
    before: dict[str, object]
    after: dict[str, object]


async def _store_change(
    billing: Billing, change: _Change, changed: SubscriptionState, caller: Caller, client: Client
) -> SubscriptionState:
    """Stores what Stripe answered (unless newer state is known) with its audit row."""
    transactions, _ = billing.stripe()

    def store(uow: BillingUnitOfWork) -> SubscriptionState:
        stored = uow.subscriptions.get(changed.subscription_id, for_update=True)
        if stored is None or stored.state_at <= changed.state_at:
            since = stored.past_due_since if stored is not None else None
            stored = replace(
                changed,
                past_due_since=(since or changed.state_at) if changed.status == PAST_DUE else None,
            )
            uow.subscriptions.save(stored)
        billing.record(
            uow,
            change.action,
            client,
            actor_id=caller.subject,
            subject_id=caller.subject,
            before=change.before,
            after=change.after,
            detail={"subscription_id": changed.subscription_id},
        )
        return stored

    return await transactions.run(store)
