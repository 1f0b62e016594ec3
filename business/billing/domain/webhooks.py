"""Stripe's webhook events, once the gateway has checked their signature.

Named steps: store the event by id first (a processed duplicate is a no-op); read the state it
is about (the subscription in the event, or re-fetched from Stripe when the event only refers
to it); apply it in one transaction: the subscription, per subscription in the order of the
events' `created` (an older event never overwrites newer state), and the ledger (invoices,
payments, refunds); the user's plan is the best any of their subscriptions gives, and a changed
plan revokes their older access tokens. A second live subscription for a user who has one (two
checkouts both paid) is cancelled at Stripe at once, audited. A failure, expected or not, is
recorded on the event (attempts, error, next attempt with backoff) and raised, so that Stripe
delivers it again; billing's retry loop (maintenance.py) and an admin's retry try it again too."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta

from business.audit.domain import Client
from business.billing.domain.context import Billing
from business.billing.domain.entities import LIVE_STATUSES, PAST_DUE, Customer, SubscriptionState
from business.billing.domain.ports import PROCESSED, BillingUnitOfWork, PaymentProvider
from business.billing.domain.stripe_objects import (
    StripeEvent,
    charge_payment,
    charge_refunds,
    invoice_of,
    invoice_payment,
    invoice_subscription,
    parse_event,
    reference,
    subscription_state,
)
from service_runtime.errors import Aborted, DomainError, FailedPrecondition

SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})
# Events that only refer to a subscription: its state is read from Stripe.
REFERRING_EVENTS = frozenset({"checkout.session.completed"}) | INVOICE_EVENTS
CHARGE_EVENTS = frozenset({"charge.succeeded", "charge.failed", "charge.refunded"})
LEDGER_EVENTS = INVOICE_EVENTS | CHARGE_EVENTS
WEBHOOK_CLIENT = Client(ip="", user_agent="stripe-webhook", request_id="")


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    duplicate: bool = False
    ignored: bool = False


@dataclass(frozen=True)
class _Duplicate:
    """A new live subscription for a user who has another live one already (kept)."""

    subscription_id: str
    user_id: str
    kept_subscription_id: str


@dataclass(frozen=True)
class _Applied:
    ignored: bool
    plan_changed_for: str = ""  # the user whose plan changed, "" when none
    refetch: str = ""  # in doubt about the order: the subscription to read from Stripe first
    duplicate: _Duplicate | None = None  # to cancel at Stripe first; the event is not applied yet


# Stripe dates events to the second; state we read ourselves is dated to the microsecond. An event
# from the same second as the stored state may be the newer one: then the subscription is re-read.
SAME_SECOND = timedelta(seconds=1)


async def record_event(billing: Billing, raw: bytes) -> EventOutcome:
    transactions, _ = billing.stripe()
    event = parse_event(raw)
    seen = await transactions.run(lambda uow: uow.events.add(event, billing.now()))
    if seen == PROCESSED:
        return EventOutcome(event.id, duplicate=True)
    applied = await process_event(billing, event)
    return EventOutcome(event.id, ignored=applied.ignored)


def stored_event(payload: dict[str, object]) -> StripeEvent:
    """A stored event's payload as the event again."""
    return parse_event(json.dumps(payload).encode())


async def process_event(billing: Billing, event: StripeEvent) -> _Applied:
    """Applies a stored event; a failure, whatever it is, is recorded on it (with its next
    attempt) and raised."""
    transactions, provider = billing.stripe()
    try:
        state = await _state_of(provider, event)
        applied = await _apply_once_more_if_concurrent(billing, event, state)
        if applied.duplicate is not None:  # cancelled at Stripe first, then applied so
            applied = await _cancel_duplicate(billing, event, applied.duplicate)
        if applied.refetch:  # in doubt: Stripe's state now is the newest
            fresh = await provider.retrieve_subscription(applied.refetch)
            applied = await _apply_once_more_if_concurrent(billing, event, fresh)
    except Exception as error:  # a bug or a malformed payload too: recorded, never lost silently
        message = _failure(error)
        await transactions.run(lambda uow: uow.events.failed(event.id, message, billing.next_attempt))
        raise
    if applied.plan_changed_for and billing.revocations is not None:
        await billing.revocations.revoke_subject(applied.plan_changed_for)
    return applied


def _failure(error: Exception) -> str:
    """What an admin sees of a failure: the message of a domain or network error, the type too of
    anything else (a bug, a payload we cannot read)."""
    if isinstance(error, DomainError | OSError):
        return str(error)[:1000]
    return f"{type(error).__name__}: {error}"[:1000]


async def _cancel_duplicate(billing: Billing, event: StripeEvent, duplicate: _Duplicate) -> _Applied:
    """The user has a live subscription already (two checkouts both paid): the new one is cancelled
    at Stripe at once, audited, and the event applied with its canceled state; the user keeps the
    first. An admin refunds what it charged (the audit row names it)."""
    transactions, provider = billing.stripe()
    canceled = await provider.cancel_subscription(duplicate.subscription_id)

    def audit(uow: BillingUnitOfWork) -> None:
        billing.record(
            uow,
            "billing.subscription.duplicate_canceled",
            WEBHOOK_CLIENT,
            subject_id=duplicate.user_id,
            after={"status": canceled.status},
            detail={
                "event_id": event.id,
                "subscription_id": duplicate.subscription_id,
                "kept_subscription_id": duplicate.kept_subscription_id,
            },
        )

    await transactions.run(audit)
    return await _apply_once_more_if_concurrent(billing, event, canceled)


async def _apply_once_more_if_concurrent(
    billing: Billing, event: StripeEvent, state: SubscriptionState | None
) -> _Applied:
    transactions, _ = billing.stripe()
    try:
        return await transactions.run(lambda uow: _apply(billing, uow, event, state))
    except Aborted:  # two events created the same subscription at once: once more, in order
        return await transactions.run(lambda uow: _apply(billing, uow, event, state))


async def _state_of(provider: PaymentProvider, event: StripeEvent) -> SubscriptionState | None:
    """The subscription state the event carries, or Stripe's current one when it only refers to
    one (dated now: newer than any event sent before)."""
    if event.type in SUBSCRIPTION_EVENTS:
        return subscription_state(event.object, event.created)
    if event.type in REFERRING_EVENTS:
        subscription_id = (
            invoice_subscription(event.object)
            if event.type in INVOICE_EVENTS
            else reference(event.object, "subscription")
        )
        if subscription_id:
            return await provider.retrieve_subscription(subscription_id)
    return None


def _apply(
    billing: Billing, uow: BillingUnitOfWork, event: StripeEvent, state: SubscriptionState | None
) -> _Applied:
    if event.type == "checkout.session.completed":
        _link_customer(uow, event)
    applied = _Applied(ignored=event.type not in REFERRING_EVENTS | LEDGER_EVENTS)
    if state is not None:
        applied = _apply_state(billing, uow, event, state)
        if applied.refetch or applied.duplicate is not None:
            return applied  # not processed yet: applied again with Stripe's (new) state
    if event.type in LEDGER_EVENTS:
        _apply_ledger(uow, event, state)
    uow.events.processed(event.id, billing.now())
    return applied


def _link_customer(uow: BillingUnitOfWork, event: StripeEvent) -> None:
    """The session's customer belongs to the user who checked out (client_reference_id)."""
    user_id = str(event.object.get("client_reference_id") or "")
    customer_id = reference(event.object, "customer")
    if user_id and customer_id and uow.customers.of_user(user_id) is None:
        uow.customers.add(Customer(user_id, customer_id))


def _owner(uow: BillingUnitOfWork, customer_id: str, state: SubscriptionState | None) -> str:
    user_id = uow.customers.user_of(customer_id) or (state.user_id if state is not None else "")
    if not user_id:
        raise FailedPrecondition(f"customer {customer_id or '(none)'} belongs to no known user")
    return user_id


def _apply_ledger(uow: BillingUnitOfWork, event: StripeEvent, state: SubscriptionState | None) -> None:
    """Invoice events store the invoice and its charge; charge events the charge (and the refunds
    it lists)."""
    obj = event.object
    user_id = _owner(uow, reference(obj, "customer"), state)
    if event.type in INVOICE_EVENTS:
        uow.ledger.save_invoice(invoice_of(obj, user_id, event.created))
        payment = invoice_payment(obj, user_id, event.type == "invoice.paid", event.created)
        if payment is not None:
            uow.ledger.save_payment(payment)
        return
    uow.ledger.save_payment(charge_payment(obj, user_id, event.created))
    for refund in charge_refunds(obj, user_id, event.created):
        uow.ledger.save_refund(refund)


def _with_grace_start(
    state: SubscriptionState, stored: SubscriptionState | None, event: StripeEvent
) -> SubscriptionState:
    """past_due since the first event that said so (the grace period runs from there)."""
    if state.status != PAST_DUE:
        return replace(state, past_due_since=None)
    if stored is not None and stored.status == PAST_DUE and stored.past_due_since is not None:
        return replace(state, past_due_since=stored.past_due_since)
    return replace(state, past_due_since=min(state.state_at, event.created))


def _apply_state(
    billing: Billing, uow: BillingUnitOfWork, event: StripeEvent, state: SubscriptionState
) -> _Applied:
    user_id = state.user_id or uow.customers.user_of(state.customer_id) or ""
    if not user_id:
        raise FailedPrecondition(f"subscription {state.subscription_id} belongs to no known user")
    stored = uow.subscriptions.get(state.subscription_id, for_update=True)
    if stored is not None and stored.state_at > state.state_at:
        if stored.state_at - state.state_at < SAME_SECOND:
            return _Applied(ignored=True, refetch=state.subscription_id)
        return _Applied(ignored=True)  # an older event: newer state is known
    duplicate = _duplicate_of(uow, user_id, state) if stored is None else None
    if duplicate is not None:
        return _Applied(ignored=True, duplicate=duplicate)
    uow.subscriptions.save(_with_grace_start(replace(state, user_id=user_id), stored, event))
    detail = {"event_id": event.id, "subscription_id": state.subscription_id, "status": state.status}
    changed = sync_plan(billing, uow, user_id, detail)
    return _Applied(ignored=False, plan_changed_for=user_id if changed else "")


def _duplicate_of(uow: BillingUnitOfWork, user_id: str, state: SubscriptionState) -> _Duplicate | None:
    """A subscription seen for the first time, live, while the user has another live one."""
    if state.status not in LIVE_STATUSES:
        return None
    current = uow.subscriptions.current_of(user_id)  # a live one first
    if current is None or current.status not in LIVE_STATUSES:
        return None
    if current.subscription_id == state.subscription_id:
        # Stored by a concurrent event for it since this one found it missing (read committed):
        # the same subscription, not a second one; the save clashes and the event is applied again.
        return None
    return _Duplicate(state.subscription_id, user_id, current.subscription_id)


def sync_plan(billing: Billing, uow: BillingUnitOfWork, user_id: str, detail: dict[str, str]) -> bool:
    """Sets the user's plan to the best any of their subscriptions gives now (an old one, ended,
    never outweighs a live one), audited; True when it changed (their older access tokens must then
    be revoked)."""
    plan = billing.best_plan(uow.subscriptions.of_user(user_id))
    before = uow.accounts.set_plan(user_id, plan)
    if before is None or before == plan:
        return False
    billing.record(
        uow,
        "billing.plan_changed",
        WEBHOOK_CLIENT,
        subject_id=user_id,
        before={"plan": before},
        after={"plan": plan},
        detail=detail,
    )
    return True
