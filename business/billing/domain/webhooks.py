"""Stripe's webhook events, once the gateway has checked their signature.

Named steps: store the event by id first (a processed duplicate is a no-op); read the state it
is about (the subscription in the event, or re-fetched from Stripe when the event only refers
to it); apply it to the subscription in one transaction, per subscription in the order of the
events' `created` (an older event never overwrites newer state); the user's plan follows their
subscription, and a changed plan revokes their older access tokens. A failure is recorded on the
event (attempts, error) and raised, so that Stripe delivers it again (with its own backoff)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from business.audit.domain import Client
from business.billing.domain.context import Billing
from business.billing.domain.entities import Customer, SubscriptionState
from business.billing.domain.ports import PROCESSED, BillingUnitOfWork, PaymentProvider
from business.billing.domain.stripe_objects import StripeEvent, parse_event, reference, subscription_state
from service_runtime.errors import Aborted, DomainError, FailedPrecondition

SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
# Events that only refer to a subscription: its state is read from Stripe.
REFERRING_EVENTS = frozenset({"checkout.session.completed", "invoice.paid", "invoice.payment_failed"})
# Stored and marked processed; the ledger of invoices, payments and refunds is not kept yet.
RECORDED_ONLY = frozenset({"charge.refunded"})
WEBHOOK_CLIENT = Client(ip="", user_agent="stripe-webhook", request_id="")


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    duplicate: bool = False
    ignored: bool = False


@dataclass(frozen=True)
class _Applied:
    ignored: bool
    plan_changed_for: str = ""  # the user whose plan changed, "" when none


async def record_event(billing: Billing, raw: bytes) -> EventOutcome:
    transactions, provider = billing.stripe()
    event = parse_event(raw)
    seen = await transactions.run(lambda uow: uow.events.add(event, billing.now()))
    if seen == PROCESSED:
        return EventOutcome(event.id, duplicate=True)
    try:
        state = await _state_of(provider, event)
        try:
            applied = await transactions.run(lambda uow: _apply(billing, uow, event, state))
        except Aborted:  # two events created the same subscription at once: once more, in order
            applied = await transactions.run(lambda uow: _apply(billing, uow, event, state))
    except (DomainError, OSError) as error:
        message = str(error)[:1000]
        await transactions.run(lambda uow: uow.events.failed(event.id, message))
        raise
    if applied.plan_changed_for and billing.revocations is not None:
        await billing.revocations.revoke_subject(applied.plan_changed_for)
    return EventOutcome(event.id, ignored=applied.ignored)


async def _state_of(provider: PaymentProvider, event: StripeEvent) -> SubscriptionState | None:
    """The subscription state the event carries, or Stripe's current one when it only refers to
    one (dated now: newer than any event sent before)."""
    if event.type in SUBSCRIPTION_EVENTS:
        return subscription_state(event.object, event.created)
    if event.type in REFERRING_EVENTS:
        subscription_id = reference(event.object, "subscription")
        if subscription_id:
            return await provider.retrieve_subscription(subscription_id)
    return None


def _apply(
    billing: Billing, uow: BillingUnitOfWork, event: StripeEvent, state: SubscriptionState | None
) -> _Applied:
    if event.type == "checkout.session.completed":
        _link_customer(uow, event)
    applied = _Applied(ignored=event.type not in REFERRING_EVENTS | RECORDED_ONLY)
    if state is not None:
        applied = _apply_state(billing, uow, event, state)
    uow.events.processed(event.id, billing.now())
    return applied


def _link_customer(uow: BillingUnitOfWork, event: StripeEvent) -> None:
    """The session's customer belongs to the user who checked out (client_reference_id)."""
    user_id = str(event.object.get("client_reference_id") or "")
    customer_id = reference(event.object, "customer")
    if user_id and customer_id and uow.customers.of_user(user_id) is None:
        uow.customers.add(Customer(user_id, customer_id))


def _apply_state(
    billing: Billing, uow: BillingUnitOfWork, event: StripeEvent, state: SubscriptionState
) -> _Applied:
    user_id = state.user_id or uow.customers.user_of(state.customer_id) or ""
    if not user_id:
        raise FailedPrecondition(f"subscription {state.subscription_id} belongs to no known user")
    stored = uow.subscriptions.get(state.subscription_id, for_update=True)
    if stored is not None and stored.state_at > state.state_at:
        return _Applied(ignored=True)  # an older event: newer state is known
    uow.subscriptions.save(replace(state, user_id=user_id))
    current = uow.subscriptions.current_of(user_id)
    plan = current.plan if current is not None else state.plan
    before = uow.accounts.set_plan(user_id, plan)
    if before is None or before == plan:
        return _Applied(ignored=False)
    billing.record(
        uow,
        "billing.plan_changed",
        WEBHOOK_CLIENT,
        subject_id=user_id,
        before={"plan": before},
        after={"plan": plan},
        detail={"event_id": event.id, "subscription_id": state.subscription_id, "status": state.status},
    )
    return _Applied(ignored=False, plan_changed_for=user_id)
