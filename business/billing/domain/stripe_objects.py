"""Stripe's JSON objects (events, subscriptions) read into billing's values. Pure: dicts in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from business.billing.domain.entities import SubscriptionState
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
    return SubscriptionState(
        subscription_id=str(data["id"]),
        user_id=str((data.get("metadata") or {}).get("user_id", "")),
        customer_id=_id_of(data.get("customer")),
        status=str(data.get("status", "")),
        price_id=str(price.get("id", "")),
        interval=STRIPE_INTERVALS.get(str(recurring.get("interval", ""))),
        current_period_end=at(period_end),
        cancel_at_period_end=bool(data.get("cancel_at_period_end", False)),
        state_at=state_at,
    )


def reference(obj: dict[str, Any], field: str) -> str:
    """The id an object refers to in `field` (customer, subscription...), "" when none."""
    return _id_of(obj.get(field))
