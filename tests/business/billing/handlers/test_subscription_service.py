"""SubscriptionService through a real server, with the real `stripe` SDK calling a local server
speaking Stripe's API: checkout (the customer created once and reused, also by two first
checkouts at once; the other open sessions expired; none while a paid one is not known yet), the
portal, cancel at period end and resume, an account made pro with no subscription, bad input, no
token, and billing without Stripe keys."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select

from business.audit.data import AuditEventRow
from business.billing.adapters.stripe_api import StripePayments
from business.billing.data.repositories import SqlBillingUnitOfWork
from business.billing.data.tables import CustomerRow
from business.billing.domain.context import Billing
from business.billing.domain.entities import Checkout, Customer
from business.billing.domain.stripe_objects import subscription_state
from business.billing.handlers import SubscriptionHandlers
from business.billing.wiring import build_billing
from business.config import BusinessSettings
from business.shared.database import BusinessStore
from service_runtime.in_process import serve_in_process
from tests.business.billing.held import HeldTransaction, wait_until_another_waits
from tests.support.in_process import TestCallers, violated_fields
from tests.support.stripe_api import PRICE_MONTHLY, PRICE_YEARLY, StripeApi
from trading.billing.v1 import plan_service_pb2 as plan_pb
from trading.billing.v1 import subscription_service_pb2 as pb
from trading.billing.v1 import subscription_service_pb2_grpc as pb_grpc

MONTHLY, YEARLY = plan_pb.BILLING_INTERVAL_MONTHLY, plan_pb.BILLING_INTERVAL_YEARLY


def _stub(channel: grpc.aio.Channel) -> pb_grpc.SubscriptionServiceStub:
    return pb_grpc.SubscriptionServiceStub(channel)


async def test_checkout_creates_the_customer_once_and_reuses_it(
    channel: grpc.aio.Channel, callers: TestCallers, stripe_api: StripeApi, store: BusinessStore
) -> None:
    me = callers.metadata(subject="buyer-1")
    first = await _stub(channel).CreateCheckoutSession(
        pb.CreateCheckoutSessionRequest(interval=MONTHLY), metadata=me
    )
    again = await _stub(channel).CreateCheckoutSession(
        pb.CreateCheckoutSessionRequest(interval=YEARLY), metadata=me
    )
    assert (
        first.url == f"{stripe_api.base_url}/checkout/{first.session_id}"
        and first.session_id != again.session_id
    )
    assert len(stripe_api.customers) == 1
    customer = next(iter(stripe_api.customers.values()))
    assert customer["email"] == "buyer-1@example.com" and customer["metadata"] == {"user_id": "buyer-1"}
    sessions = [stripe_api.sessions[first.session_id], stripe_api.sessions[again.session_id]]
    assert {s["customer"] for s in sessions} == {customer["id"]}
    assert [s["line_items"]["0"]["price"] for s in sessions] == [PRICE_MONTHLY, PRICE_YEARLY]
    assert sessions[0]["client_reference_id"] == "buyer-1"
    assert sessions[0]["subscription_data"]["metadata"] == {"user_id": "buyer-1"}
    assert sessions[0]["success_url"].startswith("http://web.test/billing?checkout=success")
    assert sessions[0]["cancel_url"] == "http://web.test/pricing?checkout=cancelled"
    # Two tabs: the second click's session is the one that can be paid; the first is expired.
    assert [s["status"] for s in sessions] == ["expired", "open"]
    with pytest.raises(ValueError, match="cannot be paid"):
        stripe_api.complete_checkout(first.session_id)
    assert ("POST", f"/v1/checkout/sessions/{first.session_id}/expire") in stripe_api.requests
    with store.transaction() as session:
        assert (
            session.scalar(select(CustomerRow.stripe_customer_id).where(CustomerRow.user_id == "buyer-1"))
            == (customer["id"])
        )
        started = session.scalars(
            select(AuditEventRow.detail)
            .where(AuditEventRow.action == "billing.checkout.started")
            .order_by(AuditEventRow.id)
        ).all()
        assert [d["expired_session_ids"] for d in started] == [[], [first.session_id]]


async def test_a_paid_checkout_not_known_yet_refuses_another_until_its_subscription_is_stored(
    channel: grpc.aio.Channel, callers: TestCallers, stripe_api: StripeApi, store: BusinessStore
) -> None:
    me = callers.metadata(subject="buyer-1")
    stub = _stub(channel)
    first = await stub.CreateCheckoutSession(pb.CreateCheckoutSessionRequest(interval=MONTHLY), metadata=me)
    paid = stripe_api.complete_checkout(first.session_id)  # its webhooks have not arrived yet
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateCheckoutSession(pb.CreateCheckoutSessionRequest(interval=YEARLY), metadata=me)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "other checkout was just paid" in (refused.value.details() or "")
    assert list(stripe_api.sessions) == [first.session_id]  # no second session to pay

    # The subscription is stored (its webhooks), and later ends: the user may subscribe again.
    ended = subscription_state({**paid, "status": "canceled"}, datetime.now(UTC)).for_user("buyer-1")
    store.units_of_work(SqlBillingUnitOfWork).run_sync(lambda uow: uow.subscriptions.save(ended))
    again = await stub.CreateCheckoutSession(pb.CreateCheckoutSessionRequest(interval=YEARLY), metadata=me)
    assert stripe_api.sessions[again.session_id]["status"] == "open"


async def test_expiring_a_session_paid_meanwhile_answers_it_is_complete(
    billing: Billing, stripe_api: StripeApi
) -> None:
    """The race the checkout guards against: a session listed open is paid before it is expired."""
    provider = billing.provider
    assert isinstance(provider, StripePayments)
    customer = await provider.create_customer("buyer-1", "buyer-1@example.com")
    args = (customer, PRICE_MONTHLY, "buyer-1", "http://web.test/ok", "http://web.test/no")
    open_one, _ = await provider.create_checkout_session(*args)
    paid_one, _ = await provider.create_checkout_session(*args)
    assert [c.id for c in await provider.recent_checkouts(customer)] == [paid_one, open_one]  # newest first
    subscription = stripe_api.complete_checkout(paid_one)
    assert await provider.expire_checkout(paid_one) == Checkout(paid_one, "complete", subscription["id"])
    assert await provider.expire_checkout(open_one) == Checkout(open_one, "expired")
    assert await provider.expire_checkout(open_one) == Checkout(open_one, "expired")  # again: no error


def test_two_first_checkouts_at_once_store_one_customer(store: BusinessStore) -> None:
    """Both got the same customer from Stripe (idempotency key): the second insert waits for the
    first, fails on the key, and answers the stored customer instead of an INTERNAL error."""
    customer = Customer("buyer-1", "cus_once")
    units = store.units_of_work(SqlBillingUnitOfWork)
    with (
        HeldTransaction(store, lambda uow: uow.customers.add(customer)) as first,
        ThreadPoolExecutor(1) as pool,
    ):
        second = pool.submit(units.run_sync, lambda uow: uow.customers.add(customer))
        wait_until_another_waits(store)
        first.commit()
        assert second.result(timeout=30) == customer
    assert first.result == customer
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CustomerRow)) == 1


async def test_cancel_at_period_end_and_resume(
    channel: grpc.aio.Channel, callers: TestCallers, stripe_api: StripeApi, store: BusinessStore
) -> None:
    me = callers.metadata(subject="buyer-2")
    stub = _stub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as nothing:
        await stub.CancelSubscription(pb.CancelSubscriptionRequest(), metadata=me)
    assert nothing.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no subscription to cancel" in (nothing.value.details() or "")
    free = (await stub.GetSubscription(pb.GetSubscriptionRequest(), metadata=me)).subscription
    assert (free.plan, free.status, free.subscription_id) == ("free", "", "")

    session = await stub.CreateCheckoutSession(pb.CreateCheckoutSessionRequest(interval=YEARLY), metadata=me)
    paid = stripe_api.complete_checkout(session.session_id)
    # What the webhook handler stores when Stripe reports the subscription.
    state = subscription_state(paid, datetime.now(UTC)).for_user("buyer-2")
    store.units_of_work(SqlBillingUnitOfWork).run_sync(lambda uow: uow.subscriptions.save(state))
    current = (await stub.GetSubscription(pb.GetSubscriptionRequest(), metadata=me)).subscription
    assert (current.plan, current.status, current.interval) == ("pro", "active", YEARLY)
    assert current.current_period_end.seconds == paid["current_period_end"]

    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await stub.CreateCheckoutSession(pb.CreateCheckoutSessionRequest(interval=MONTHLY), metadata=me)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    cancelled = (await stub.CancelSubscription(pb.CancelSubscriptionRequest(), metadata=me)).subscription
    assert cancelled.cancel_at_period_end and cancelled.plan == "pro"  # pro until the period ends
    assert stripe_api.subscriptions[paid["id"]]["cancel_at_period_end"] is True
    calls = len(stripe_api.requests)
    again = (await stub.CancelSubscription(pb.CancelSubscriptionRequest(), metadata=me)).subscription
    assert again.cancel_at_period_end and len(stripe_api.requests) == calls  # no change, no call
    resumed = (await stub.ResumeSubscription(pb.ResumeSubscriptionRequest(), metadata=me)).subscription
    assert not resumed.cancel_at_period_end
    assert stripe_api.subscriptions[paid["id"]]["cancel_at_period_end"] is False

    portal = await stub.CreatePortalSession(pb.CreatePortalSessionRequest(), metadata=me)
    assert portal.url.startswith(f"{stripe_api.base_url}/portal/")
    assert next(iter(stripe_api.portal_sessions.values()))["return_url"] == "http://web.test/billing"


async def test_an_account_an_administrator_made_pro_reads_pro_with_no_subscription(
    channel: grpc.aio.Channel, callers: TestCallers, store: BusinessStore
) -> None:
    me = callers.metadata(subject="buyer-1", plan="free")  # a token from before the change
    stub = _stub(channel)
    before = await stub.GetSubscription(pb.GetSubscriptionRequest(), metadata=me)
    assert (before.account_plan, before.subscription.plan) == ("free", "free")

    store.units_of_work(SqlBillingUnitOfWork).run_sync(lambda uow: uow.accounts.set_plan("buyer-1", "pro"))
    after = await stub.GetSubscription(pb.GetSubscriptionRequest(), metadata=me)
    # The account's plan comes from the store, not the token; the subscription says what it gives.
    assert after.account_plan == "pro"
    assert (after.subscription.plan, after.subscription.status, after.HasField("next_invoice")) == (
        "free",
        "",
        False,
    )


async def test_bad_input_no_token_and_no_account(channel: grpc.aio.Channel, callers: TestCallers) -> None:
    stub = _stub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.CreateCheckoutSession(
            pb.CreateCheckoutSessionRequest(), metadata=callers.metadata(subject="buyer-1")
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(bad.value) == ["interval"]
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.GetSubscription(pb.GetSubscriptionRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as portal:
        await stub.CreatePortalSession(
            pb.CreatePortalSessionRequest(), metadata=callers.metadata(subject="buyer-1")
        )
    assert portal.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # no customer yet
    with pytest.raises(grpc.aio.AioRpcError) as ghost:
        await stub.CreateCheckoutSession(
            pb.CreateCheckoutSessionRequest(interval=MONTHLY), metadata=callers.metadata(subject="nobody")
        )
    assert ghost.value.code() == grpc.StatusCode.NOT_FOUND


async def test_stripe_refusing_is_unavailable_and_stores_nothing(
    billing_with_wrong_key: grpc.aio.Channel, callers: TestCallers, store: BusinessStore
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _stub(billing_with_wrong_key).CreateCheckoutSession(
            pb.CreateCheckoutSessionRequest(interval=MONTHLY), metadata=callers.metadata(subject="buyer-1")
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "Invalid API Key" in (refused.value.details() or "") and "Traceback" not in (
        refused.value.details() or ""
    )
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(CustomerRow)) == 0


async def test_without_stripe_keys_billing_is_not_configured(store: BusinessStore, tmp_path: Path) -> None:
    callers = TestCallers(tmp_path / "keys")
    handlers = SubscriptionHandlers(build_billing(BusinessSettings(_env_file=None), store))  # type: ignore[call-arg]
    async with serve_in_process(
        service_names=["trading.billing.v1.SubscriptionService"],
        registrars=[lambda server: pb_grpc.add_SubscriptionServiceServicer_to_server(handlers, server)],
        verifier=callers.verifier(),
    ) as served:
        stub = _stub(served.channel)
        me = callers.metadata(subject="buyer-1")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateCheckoutSession(pb.CreateCheckoutSessionRequest(interval=MONTHLY), metadata=me)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "billing is not configured" in (refused.value.details() or "")
        unconfigured = await stub.GetSubscription(pb.GetSubscriptionRequest(), metadata=me)
        assert unconfigured.subscription.plan == "free"
        pro = await stub.GetSubscription(
            pb.GetSubscriptionRequest(), metadata=callers.metadata(subject="buyer-1", plan="pro")
        )
        assert pro.account_plan == "pro"  # no store to read: the token's plan
