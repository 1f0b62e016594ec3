"""Billing on a real store (SQLite always, PostgreSQL when TEST_DATABASE_URL is set), the real
`stripe` SDK talking to a local server speaking Stripe's API, and both billing services on a real
in-process server behind the production interceptors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from business.billing.domain.context import Billing
from business.billing.handlers import PlanHandlers, SubscriptionHandlers
from business.billing.wiring import build_billing
from business.config import BusinessSettings
from business.shared.database import BusinessStore
from service_runtime.in_process import serve_in_process
from tests.business.people import add_users, plain_users
from tests.support.in_process import TestCallers
from tests.support.stripe_api import StripeApi
from trading.billing.v1 import plan_service_pb2, plan_service_pb2_grpc, subscription_service_pb2_grpc

SERVICE_NAMES = [
    plan_service_pb2.DESCRIPTOR.services_by_name["PlanService"].full_name,
    "trading.billing.v1.SubscriptionService",
]
USERS = ("buyer-1", "buyer-2")


@pytest.fixture
def stripe_api() -> Iterator[StripeApi]:
    with StripeApi() as api:
        yield api


@pytest.fixture
def billing(store: BusinessStore, stripe_api: StripeApi) -> Billing:
    add_users(store, plain_users(USERS))
    env = {k.lower(): v for k, v in stripe_api.env().items() if k != "STRIPE_WEBHOOK_SECRET"}
    settings = BusinessSettings(_env_file=None, public_web_url="http://web.test", **env)  # type: ignore[call-arg]
    return build_billing(settings, store)


@pytest.fixture
async def channel(billing: Billing, callers: TestCallers) -> AsyncIterator[grpc.aio.Channel]:
    plans, subscriptions = PlanHandlers(billing), SubscriptionHandlers(billing)
    async with serve_in_process(
        service_names=SERVICE_NAMES,
        registrars=[
            lambda server: plan_service_pb2_grpc.add_PlanServiceServicer_to_server(plans, server),
            lambda server: subscription_service_pb2_grpc.add_SubscriptionServiceServicer_to_server(
                subscriptions, server
            ),
        ],
        verifier=callers.verifier(),
    ) as served:
        yield served.channel


@pytest.fixture
async def billing_with_wrong_key(
    billing: Billing, stripe_api: StripeApi, store: BusinessStore, callers: TestCallers
) -> AsyncIterator[grpc.aio.Channel]:
    env = {k.lower(): v for k, v in stripe_api.env().items() if k != "STRIPE_WEBHOOK_SECRET"}
    env["stripe_secret_key"] = "sk_test_not_the_one"
    settings = BusinessSettings(_env_file=None, **env)  # type: ignore[call-arg]
    handlers = SubscriptionHandlers(build_billing(settings, store))
    async with serve_in_process(
        service_names=["trading.billing.v1.SubscriptionService"],
        registrars=[
            lambda server: subscription_service_pb2_grpc.add_SubscriptionServiceServicer_to_server(
                handlers, server
            )
        ],
        verifier=callers.verifier(),
    ) as served:
        yield served.channel
