"""The payment provider on Stripe's API, through the official SDK (`stripe`).

The SDK is synchronous here; each call runs in a worker thread so the event loop stays free.
`base_url` replaces https://api.stripe.com (tests point it at a local server speaking the subset
of Stripe's API used here, tests/support/stripe_api.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import stripe
from stripe._base_address import BaseAddresses
from stripe.params import RefundCreateParams

from business.billing.domain.entities import CHECKOUT_OPEN, Checkout, Refund, SubscriptionState
from business.billing.domain.ports import RECENT_CHECKOUTS
from business.billing.domain.stripe_objects import checkout_of, refund_of, subscription_state
from service_runtime.errors import DependencyUnavailable

REFUND_REASONS: dict[str, Literal["duplicate", "fraudulent", "requested_by_customer"]] = {
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
    "requested_by_customer": "requested_by_customer",
}


class StripePayments:
    def __init__(self, secret_key: str, base_url: str = "") -> None:
        addresses: BaseAddresses = {"api": base_url.rstrip("/")} if base_url else {}
        # Retries reuse the idempotency key the SDK sets on every POST: never a double charge.
        self.client = stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=2)

    async def _call(self, what: str, call: Any) -> Any:
        try:
            return await asyncio.to_thread(call)
        except stripe.StripeError as error:
            # Stripe's message, never our internals; the user may retry.
            raise DependencyUnavailable(f"Stripe refused to {what}: {error.user_message or error}") from None

    async def _call_or_read(self, what: str, call: Any, read: Any, done: Callable[[Any], bool]) -> Any:
        """`call`; when Stripe refuses it, the object as `read` finds it, if `done` says the change
        is there already (another request made it first) or moot (the customer paid meanwhile)."""
        try:
            return await asyncio.to_thread(call)
        except stripe.StripeError as error:
            found = await self._call(what, read)
            if done(found):
                return found
            raise DependencyUnavailable(f"Stripe refused to {what}: {error.user_message or error}") from None

    async def create_customer(self, user_id: str, email: str) -> str:
        customer = await self._call(
            "create the customer",
            lambda: self.client.v1.customers.create(
                params={"email": email, "metadata": {"user_id": user_id}},
                options={"idempotency_key": f"customer-{user_id}"},
            ),
        )
        return str(customer.id)

    async def create_checkout_session(
        self, customer_id: str, price_id: str, user_id: str, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        session = await self._call(
            "start checkout",
            lambda: self.client.v1.checkout.sessions.create(
                params={
                    "mode": "subscription",
                    "customer": customer_id,
                    "line_items": [{"price": price_id, "quantity": 1}],
                    "client_reference_id": user_id,
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": {"user_id": user_id},
                    "subscription_data": {"metadata": {"user_id": user_id}},
                }
            ),
        )
        return str(session.id), str(session.url)

    async def recent_checkouts(self, customer_id: str) -> list[Checkout]:
        page = await self._call(
            "list the checkout sessions",
            lambda: self.client.v1.checkout.sessions.list(
                params={"customer": customer_id, "limit": RECENT_CHECKOUTS}
            ),
        )
        return [checkout_of(session.to_dict()) for session in page.data]

    async def expire_checkout(self, session_id: str) -> Checkout:
        session = await self._call_or_read(
            "expire the checkout session",
            lambda: self.client.v1.checkout.sessions.expire(session_id),
            lambda: self.client.v1.checkout.sessions.retrieve(session_id),
            done=lambda found: found.status != CHECKOUT_OPEN,  # paid or expired meanwhile
        )
        return checkout_of(session.to_dict())

    async def create_portal_session(self, customer_id: str, return_url: str) -> str:
        session = await self._call(
            "open the billing portal",
            lambda: self.client.v1.billing_portal.sessions.create(
                params={"customer": customer_id, "return_url": return_url}
            ),
        )
        return str(session.url)

    async def set_cancel_at_period_end(self, subscription_id: str, cancel: bool) -> SubscriptionState:
        subscription = await self._call(
            "change the subscription",
            lambda: self.client.v1.subscriptions.update(
                subscription_id, params={"cancel_at_period_end": cancel}
            ),
        )
        return subscription_state(subscription.to_dict(), datetime.now(UTC))

    async def cancel_subscription(self, subscription_id: str) -> SubscriptionState:
        subscription = await self._call_or_read(
            "cancel the subscription",
            lambda: self.client.v1.subscriptions.cancel(subscription_id),
            lambda: self.client.v1.subscriptions.retrieve(subscription_id),
            done=lambda found: found.status == "canceled",  # a concurrent event cancelled it first
        )
        return subscription_state(subscription.to_dict(), datetime.now(UTC))

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState:
        subscription = await self._call(
            "read the subscription", lambda: self.client.v1.subscriptions.retrieve(subscription_id)
        )
        return subscription_state(subscription.to_dict(), datetime.now(UTC))

    async def change_price(self, subscription_id: str, price_id: str) -> SubscriptionState:
        current = await self._call(
            "read the subscription", lambda: self.client.v1.subscriptions.retrieve(subscription_id)
        )
        item_id = current["items"]["data"][0]["id"]
        subscription = await self._call(
            "change the subscription's price",
            lambda: self.client.v1.subscriptions.update(
                subscription_id,
                params={
                    "items": [{"id": item_id, "price": price_id}],
                    # Credit the unused time of the old price, charge the new one now.
                    "proration_behavior": "always_invoice",
                },
            ),
        )
        return subscription_state(subscription.to_dict(), datetime.now(UTC))

    async def create_refund(self, payment_id: str, amount: int, reason: str, idempotency_key: str) -> Refund:
        params: RefundCreateParams = {"charge": payment_id, "amount": amount}
        if reason in REFUND_REASONS:
            params["reason"] = REFUND_REASONS[reason]
        refund = await self._call(
            "refund the payment",
            lambda: self.client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            ),
        )
        return refund_of(refund.to_dict(), "", datetime.now(UTC))
