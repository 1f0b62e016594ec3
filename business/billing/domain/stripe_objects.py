"""Stripe's JSON objects (events, subscriptions, invoices, charges, refunds) read into billing's
values. Pure: dicts in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from business.billing.domain.entities import Checkout, Invoice, Payment, Refund, SubscriptionState
from business.billing.domain.plans import Interval
from service_runtime.errors import InvalidArgument

STRIPE_INTERVALS = {"month": Interval.MONTHLY, "year": Interval.YEARLY}


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: datetime
    object: dict[str, Any]
    payload: dict[str, Any]


def at(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), UTC) if seconds else None


def _id_of(value: Any) -> str:
    """A Stripe reference: an id string, or an expanded object with an id."""
    if isinstance(value, dict):
        return str(value.get("id", ""))
    return str(value or "")


def parse_event(raw: bytes) -> StripeEvent:
    try:
        payload = json.loads(raw)
        event_id, event_type, created = payload["id"], payload["type"], int(payload["created"])
        obj = payload["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.field(
            "payload", "is not a Stripe event (id, type, created, data.object)"
        ) from None
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or not isinstance(obj, dict):
        raise InvalidArgument.field("payload", "is not a Stripe event (id, type, created, data.object)")
    return StripeEvent(event_id, str(event_type), datetime.fromtimestamp(created, UTC), obj, payload)


def subscription_state(data: dict[str, Any], state_at: datetime) -> SubscriptionState:
    """A Stripe Subscription object as our state; user_id from its metadata (may be empty)."""
    items = (data.get("items") or {}).get("data") or [{}]
    item = items[0]
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    period_end = data.get("current_period_end") or item.get("current_period_end")
    status = str(data.get("status", ""))
    ended = data.get("ended_at") or (data.get("canceled_at") if status == "canceled" else None)
    return SubscriptionState(
        subscription_id=str(data["id"]),
        user_id=str((data.get("metadata") or {}).get("user_id", "")),
        customer_id=_id_of(data.get("customer")),
        status=status,
        price_id=str(price.get("id", "")),
        interval=STRIPE_INTERVALS.get(str(recurring.get("interval", ""))),
        current_period_end=at(period_end),
        cancel_at_period_end=bool(data.get("cancel_at_period_end", False)),
        state_at=state_at,
        amount_minor=int(price.get("unit_amount") or 0) * int(item.get("quantity") or 1),
        currency=str(price.get("currency", "")),
        started_at=at(data.get("start_date") or data.get("created")),
        ended_at=at(ended) if ended else (state_at if status == "canceled" else None),
    )


def reference(obj: dict[str, Any], field: str) -> str:
    """The id an object refers to in `field` (customer, subscription...), "" when none."""
    return _id_of(obj.get(field))


def checkout_of(data: dict[str, Any]) -> Checkout:
    """A Checkout Session: its id, status and the subscription it created (once complete)."""
    return Checkout(str(data["id"]), str(data.get("status") or ""), reference(data, "subscription"))


def invoice_subscription(data: dict[str, Any]) -> str:
    """The subscription an invoice bills: `subscription` (API versions before 2025-03-31) or
    `parent.subscription_details.subscription` (since)."""
    direct = reference(data, "subscription")
    if direct:
        return direct
    details = ((data.get("parent") or {}).get("subscription_details")) or {}
    return reference(details, "subscription")


def invoice_of(data: dict[str, Any], user_id: str, state_at: datetime) -> Invoice:
    return Invoice(
        id=str(data["id"]),
        user_id=user_id,
        customer_id=reference(data, "customer"),
        subscription_id=invoice_subscription(data),
        status=str(data.get("status") or ""),
        amount_due=int(data.get("amount_due") or 0),
        amount_paid=int(data.get("amount_paid") or 0),
        currency=str(data.get("currency") or ""),
        hosted_invoice_url=str(data.get("hosted_invoice_url") or ""),
        created=at(data.get("created")) or state_at,
        state_at=state_at,
    )


def invoice_payment(
    data: dict[str, Any], user_id: str, succeeded: bool, state_at: datetime
) -> Payment | None:
    """The charge an invoice event reports: `charge` (API versions before 2025-03-31) or its
    `payments` list when the endpoint includes it (since); None when it names none (the charge's
    own charge.succeeded event records it then)."""
    charge = data.get("charge")
    charge_id = reference(data, "charge")
    if not charge_id:
        listed = (data.get("payments") or {}).get("data") or []
        charge_id = next(
            (reference(item.get("payment") or {}, "charge") for item in listed if isinstance(item, dict)), ""
        )
    if not charge_id:
        return None
    if isinstance(charge, dict):
        return charge_payment(charge, user_id, state_at)
    amount = int(data.get("amount_paid") or 0) if succeeded else int(data.get("amount_due") or 0)
    return Payment(
        id=charge_id,
        user_id=user_id,
        customer_id=reference(data, "customer"),
        invoice_id=str(data["id"]),
        status="succeeded" if succeeded else "failed",
        amount=amount,
        amount_refunded=0,
        currency=str(data.get("currency") or ""),
        created=state_at,
    )


def charge_payment(data: dict[str, Any], user_id: str, state_at: datetime) -> Payment:
    return Payment(
        id=str(data["id"]),
        user_id=user_id,
        customer_id=reference(data, "customer"),
        invoice_id=reference(data, "invoice"),
        status=str(data.get("status") or "succeeded"),
        amount=int(data.get("amount") or 0),
        amount_refunded=int(data.get("amount_refunded") or 0),
        currency=str(data.get("currency") or ""),
        created=at(data.get("created")) or state_at,
    )


def refund_of(data: dict[str, Any], user_id: str, state_at: datetime) -> Refund:
    return Refund(
        id=str(data["id"]),
        payment_id=reference(data, "charge"),
        user_id=user_id,
        amount=int(data.get("amount") or 0),
        currency=str(data.get("currency") or ""),
        status=str(data.get("status") or "succeeded"),
        reason=str(data.get("reason") or ""),
        created=at(data.get("created")) or state_at,
    )


def charge_refunds(data: dict[str, Any], user_id: str, state_at: datetime) -> list[Refund]:
    """The refunds a charge lists (charge.refunded carries them in `refunds.data`)."""
    listed = (data.get("refunds") or {}).get("data") or []
    return [
        refund_of({**item, "charge": item.get("charge") or data["id"]}, user_id, state_at)
        for item in listed
        if isinstance(item, dict) and item.get("id")
    ]
