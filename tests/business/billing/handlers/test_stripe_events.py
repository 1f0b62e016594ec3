"""StripeEventService through a real server (role "service" only): events stored by id first (a
processed duplicate is a no-op), per-subscription ordering by `created`, the user's plan following
the subscription with older tokens revoked, events that only refer to a subscription re-fetched
from Stripe (the local server speaking its API), failures (a bug's too) recorded and retried, a
second live subscription for one user cancelled at Stripe, and two events recording one charge at
once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from business.audit.data import AuditEventRow
from business.billing.data.repositories import SqlBillingUnitOfWork
from business.billing.data.tables import PaymentRow, SubscriptionRow, WebhookEventRow
from business.billing.domain.context import Billing
from business.billing.domain.entities import Customer, Payment
from business.billing.handlers import StripeEventHandlers
from business.identity.data.tables import UserRow
from business.shared.database import BusinessStore
from service_runtime.caller import Caller
from service_runtime.in_process import serve_in_process
from service_runtime.revocations import MemoryRevocations
from tests.business.billing.held import HeldTransaction, wait_until_another_waits
from tests.support.in_process import TestCallers
from tests.support.stripe_api import PRICE_MONTHLY, StripeApi
from trading.billing.v1 import stripe_event_service_pb2 as pb
from trading.billing.v1 import stripe_event_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["StripeEventService"].full_name


class Events:
    def __init__(
        self, stub: pb_grpc.StripeEventServiceStub, callers: TestCallers, revocations: MemoryRevocations
    ):
        self.stub = stub
        self.metadata = callers.metadata(subject="service:gateway", roles=("service",), plan="")
        self.revocations = revocations

    async def send(self, payload: dict[str, Any]) -> pb.RecordStripeEventResponse:
        return await self.stub.RecordStripeEvent(
            pb.RecordStripeEventRequest(payload=json.dumps(payload).encode()), metadata=self.metadata
        )


@pytest.fixture
async def events(billing: Billing, callers: TestCallers) -> AsyncIterator[Events]:
    revocations = MemoryRevocations(ttl_s=900)
    handlers = StripeEventHandlers(replace(billing, revocations=revocations))
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_StripeEventServiceServicer_to_server(handlers, server)],
        verifier=callers.verifier(),
    ) as served:
        yield Events(pb_grpc.StripeEventServiceStub(served.channel), callers, revocations)


def plan_of(store: BusinessStore, user_id: str) -> str:
    with store.transaction() as session:
        return str(session.scalar(select(UserRow.plan).where(UserRow.id == user_id)))


def status_of(store: BusinessStore, subscription_id: str) -> str:
    with store.transaction() as session:
        return str(
            session.scalar(select(SubscriptionRow.status).where(SubscriptionRow.id == subscription_id))
        )


async def is_revoked(revocations: MemoryRevocations, user_id: str, issued_at: float) -> bool:
    caller = Caller(user_id, frozenset({"user"}), "free", issued_at=issued_at, expires_at=issued_at + 900)
    return await revocations.is_revoked(caller)


async def test_subscription_events_drive_the_plan_in_order_and_duplicates_are_no_ops(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    sub = stripe_api.subscription("cus_x", PRICE_MONTHLY, "buyer-1")
    # A day ahead: the past_due below is within its grace whatever a test stack's sweep does.
    t0 = int(time.time()) + 86400
    token_issued = time.time() - 5
    created = stripe_api.event("customer.subscription.created", sub, created=t0)
    first = await events.send(created)
    assert (first.event_id, first.duplicate, first.ignored) == (created["id"], False, False)
    assert plan_of(store, "buyer-1") == "pro"
    assert await is_revoked(events.revocations, "buyer-1", token_issued)  # older tokens carry "free"

    again = await events.send(created)
    assert again.duplicate is True

    past_due = stripe_api.event(
        "customer.subscription.updated", {**sub, "status": "past_due"}, created=t0 + 20
    )
    assert (await events.send(past_due)).ignored is False
    # past_due keeps pro within the grace period (test_ledger_and_grace: when it is over).
    assert (status_of(store, sub["id"]), plan_of(store, "buyer-1")) == ("past_due", "pro")
    # An older event arriving late never overwrites newer state.
    stale = stripe_api.event("customer.subscription.updated", {**sub, "status": "active"}, created=t0 + 10)
    assert (await events.send(stale)).ignored is True
    assert (status_of(store, sub["id"]), plan_of(store, "buyer-1")) == ("past_due", "pro")

    deleted = stripe_api.event(
        "customer.subscription.deleted", {**sub, "status": "canceled"}, created=t0 + 30
    )
    await events.send(deleted)
    assert (status_of(store, sub["id"]), plan_of(store, "buyer-1")) == ("canceled", "free")
    with store.transaction() as session:
        stored = session.scalars(select(WebhookEventRow).order_by(WebhookEventRow.created)).all()
        assert [e.type for e in stored] == [
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.updated",
            "customer.subscription.deleted",
        ]
        assert all(e.processed_at is not None and e.attempts == 1 for e in stored)


async def test_checkout_completed_links_the_customer_and_reads_the_subscription_from_stripe(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    customer = "cus_checkout"
    stripe_api.customers[customer] = {"id": customer, "object": "customer"}
    sub = stripe_api.subscription(customer, PRICE_MONTHLY, "")  # no user in its metadata
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "customer": customer,
        "subscription": sub["id"],
        "client_reference_id": "buyer-2",
        "mode": "subscription",
    }
    await events.send(stripe_api.event("checkout.session.completed", session))
    assert ("GET", f"/v1/subscriptions/{sub['id']}") in stripe_api.requests
    assert (status_of(store, sub["id"]), plan_of(store, "buyer-2")) == ("active", "pro")

    stripe_api.subscriptions[sub["id"]]["status"] = "past_due"
    invoice = {"id": "in_1", "object": "invoice", "customer": customer, "subscription": sub["id"]}
    await events.send(stripe_api.event("invoice.payment_failed", invoice))
    assert (status_of(store, sub["id"]), plan_of(store, "buyer-2")) == ("past_due", "pro")  # grace
    charge = {"id": "ch_1", "object": "charge", "customer": customer, "amount": 1900, "currency": "usd"}
    refund = await events.send(stripe_api.event("charge.refunded", charge))
    assert refund.ignored is False  # in the ledger
    unknown = await events.send(stripe_api.event("customer.created", {"id": customer, "object": "customer"}))
    assert unknown.ignored is True


async def test_an_event_for_an_unknown_customer_fails_is_recorded_and_succeeds_when_retried(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    sub = stripe_api.subscription("cus_unknown", PRICE_MONTHLY, "")
    event = stripe_api.event("customer.subscription.created", sub)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await events.send(event)
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with store.transaction() as session:
        row = session.get(WebhookEventRow, event["id"])
        assert row is not None and row.processed_at is None and row.attempts == 1
        assert "no known user" in row.last_error
    store.units_of_work(SqlBillingUnitOfWork).run_sync(
        lambda uow: uow.customers.add(Customer("buyer-1", "cus_unknown"))
    )
    retried = await events.send(event)  # Stripe delivers it again: stored but not processed, so applied
    assert retried.duplicate is False and plan_of(store, "buyer-1") == "pro"


async def test_only_the_service_role_may_send_events_and_junk_is_invalid(
    events: Events, callers: TestCallers
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as user:
        await events.stub.RecordStripeEvent(
            pb.RecordStripeEventRequest(payload=b"{}"), metadata=callers.metadata(subject="buyer-1")
        )
    assert user.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as junk:
        await events.stub.RecordStripeEvent(
            pb.RecordStripeEventRequest(payload=b"not json"), metadata=events.metadata
        )
    assert junk.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_two_events_for_one_subscription_at_once_end_in_the_newer_state(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    for round_ in range(3):
        sub = stripe_api.subscription("cus_x", PRICE_MONTHLY, "buyer-1")
        t0 = int(time.time()) + round_ * 100
        newer = stripe_api.event(
            "customer.subscription.updated", {**sub, "status": "past_due"}, created=t0 + 5
        )
        older = stripe_api.event("customer.subscription.created", sub, created=t0)
        replies = await asyncio.gather(events.send(newer), events.send(older))
        assert [r.duplicate for r in replies] == [False, False]
        assert status_of(store, sub["id"]) == "past_due"
        # Ended, so that the next round's subscription is not a second live one (cancelled).
        await events.send(
            stripe_api.event("customer.subscription.deleted", {**sub, "status": "canceled"}, created=t0 + 10)
        )


def stored_event(store: BusinessStore, event_id: str) -> WebhookEventRow:
    with store.transaction() as session:
        row = session.get(WebhookEventRow, event_id)
        assert row is not None
        session.expunge(row)
        return row


async def test_a_second_live_subscription_for_one_user_is_cancelled_at_stripe_and_audited(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    """Two checkouts both paid: the user keeps the first subscription; the second is cancelled."""
    customer = "cus_two_tabs"
    stripe_api.customers[customer] = {"id": customer, "object": "customer"}
    store.units_of_work(SqlBillingUnitOfWork).run_sync(
        lambda uow: uow.customers.add(Customer("buyer-1", customer))
    )
    kept = stripe_api.subscription(customer, PRICE_MONTHLY, "buyer-1")
    await events.send(stripe_api.event("customer.subscription.created", kept))
    second = stripe_api.subscription(customer, PRICE_MONTHLY, "buyer-1")
    created = stripe_api.event("customer.subscription.created", second)
    await events.send(created)

    assert stripe_api.subscriptions[second["id"]]["status"] == "canceled"
    assert ("DELETE", f"/v1/subscriptions/{second['id']}") in stripe_api.requests
    assert (status_of(store, kept["id"]), status_of(store, second["id"])) == ("active", "canceled")
    assert plan_of(store, "buyer-1") == "pro"
    assert stored_event(store, created["id"]).processed_at is not None
    with store.transaction() as session:
        audits = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "billing.subscription.duplicate_canceled")
        ).all()
        assert [(a.subject_id, a.detail, a.after) for a in audits] == [
            (
                "buyer-1",
                {
                    "event_id": created["id"],
                    "subscription_id": second["id"],
                    "kept_subscription_id": kept["id"],
                },
                {"status": "canceled"},
            )
        ]
    # Stripe's own events about the cancelled one change nothing, and cancel nothing twice.
    deletes = stripe_api.requests.count(("DELETE", f"/v1/subscriptions/{second['id']}"))
    await events.send(
        stripe_api.event("customer.subscription.deleted", stripe_api.subscriptions[second["id"]])
    )
    invoice = {"id": "in_second", "object": "invoice", "customer": customer, "subscription": second["id"]}
    await events.send(stripe_api.event("invoice.paid", invoice))
    assert stripe_api.requests.count(("DELETE", f"/v1/subscriptions/{second['id']}")) == deletes
    assert (status_of(store, kept["id"]), plan_of(store, "buyer-1")) == ("active", "pro")


async def test_an_event_that_breaks_the_code_is_recorded_on_the_event(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    store.units_of_work(SqlBillingUnitOfWork).run_sync(
        lambda uow: uow.customers.add(Customer("buyer-2", "cus_b"))
    )
    charge = {"id": "ch_junk", "object": "charge", "customer": "cus_b", "amount": "not a number"}
    event = stripe_api.event("charge.succeeded", charge)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await events.send(event)
    assert failed.value.code() == grpc.StatusCode.INTERNAL  # the gateway answers 503: Stripe retries
    row = stored_event(store, event["id"])
    assert (row.processed_at, row.attempts) == (None, 1)
    assert row.last_error.startswith("ValueError:") and row.next_attempt_at is not None


async def test_invoice_paid_and_charge_succeeded_recording_one_charge_at_once_both_succeed(
    events: Events, stripe_api: StripeApi, store: BusinessStore
) -> None:
    """The invoice's transaction is inserting the payment when charge.succeeded inserts it too: the
    later insert fails on the key, and its event is applied once more, updating the row."""
    store.units_of_work(SqlBillingUnitOfWork).run_sync(
        lambda uow: uow.customers.add(Customer("buyer-1", "cus_c"))
    )
    charge = {"id": "ch_both", "object": "charge", "customer": "cus_c", "amount": 1900, "currency": "usd"}
    event = stripe_api.event(
        "charge.succeeded", {**charge, "status": "succeeded", "created": int(time.time())}
    )
    from_invoice = Payment(
        "ch_both", "buyer-1", "cus_c", "in_both", "succeeded", 1900, 0, "usd", datetime.now(UTC)
    )
    with HeldTransaction(store, lambda uow: uow.ledger.save_payment(from_invoice)) as invoice_paid:
        sent = asyncio.create_task(events.send(event))
        await asyncio.to_thread(wait_until_another_waits, store)
        invoice_paid.commit()
        reply = await sent
    assert (reply.duplicate, reply.ignored) == (False, False)
    assert stored_event(store, event["id"]).processed_at is not None
    with store.transaction() as session:
        rows = session.scalars(select(PaymentRow).where(PaymentRow.id == "ch_both")).all()
        assert [(r.status, r.amount, r.invoice_id) for r in rows] == [("succeeded", 1900, "in_both")]
