"""The payment provider on Stripe's API, through the official SDK (`stripe`).

The SDK is synchronous here; each call runs in a worker thread so the event loop stays free.
`base_url` replaces https://api.stripe.com (tests point it at a local server speaking the subset
of Stripe's API used here, tests/support/stripe_api.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe._base_address import BaseAddresses

from business.billing.domain.entities import SubscriptionState
from business.billing.domain.stripe_objects import subscription_state
from service_runtime.errors import DependencyUnavailable


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

    async def retrieve_subscription(self, subscription_id: str) -> SubscriptionState:
        subscription = await self._call(
            "read the subscription", lambda: self.client.v1.subscriptions.retrieve(subscription_id)
        )
        return subscription_state(subscription.to_dict(), datetime.now(UTC))
