"""The ledger (invoices, payments, refunds fed by Stripe's events, reconciling with Stripe's own
objects), the past_due grace period (pro kept within it, free at once after it: tokens revoked),
switching monthly <-> yearly with proration, failed events retried with backoff (one that breaks
the code stops no other), a user's live subscription outweighing an old one paid late, and
BillingAdminService (customer view, refunds audited before Stripe is called and after, figures,
failed events, retry now), through a real server with the production interceptors and the real SDK
against the local Stripe."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from business.audit.data import AuditEventRow
from business.billing.data.repositories import SqlBillingUnitOfWork
from business.billing.data.tables import SubscriptionRow, WebhookEventRow
from business.billing.domain import maintenance
from business.billing.domain.context import Billing
from business.billing.domain.entities import Customer
from business.billing.domain.webhooks import stored_event as stored_event_of
from business.billing.handlers import BillingAdminHandlers, StripeEventHandlers, SubscriptionHandlers
from business.identity.data.tables import UserRow
from business.shared.database import BusinessStore
from service_runtime.caller import Caller
from service_runtime.in_process import serve_in_process
from service_runtime.revocations import MemoryRevocations
from tests.support.in_process import TestCallers, violated_fields
from tests.support.stripe_api import PRICE_MONTHLY, PRICE_YEARLY, StripeApi
from trading.billing.v1 import billing_admin_service_pb2 as admin_pb
from trading.billing.v1 import billing_admin_service_pb2_grpc as admin_grpc
from trading.billing.v1 import plan_service_pb2 as plan_pb
from trading.billing.v1 import stripe_event_service_pb2 as event_pb
from trading.billing.v1 import stripe_event_service_pb2_grpc as event_grpc
from trading.billing.v1 import subscription_service_pb2 as sub_pb
from trading.billing.v1 import subscription_service_pb2_grpc as sub_grpc

SERVICES = [
    "trading.billing.v1.SubscriptionService",
    "trading.billing.v1.StripeEventService",
    "trading.billing.v1.BillingAdminService",
]
GRACE = timedelta(days=3)


class Clock:
    """Billing's clock, a day ahead: what these tests store (retry times, grace periods) is never
    due for the sweep of a test stack running on the real clock against the same database."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(days=1)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Bench:
    billing: Billing
    clock: Clock
    revocations: MemoryRevocations
    subscriptions: sub_grpc.SubscriptionServiceStub
    events: event_grpc.StripeEventServiceStub
    admin: admin_grpc.BillingAdminServiceStub
    service: Any
    admin_md: Any

    async def send(self, event: dict[str, Any]) -> event_pb.RecordStripeEventResponse:
        return await self.events.RecordStripeEvent(
            event_pb.RecordStripeEventRequest(payload=json.dumps(event).encode()), metadata=self.service
        )


@pytest.fixture
async def bench(billing: Billing, callers: TestCallers) -> AsyncIterator[Bench]:
    clock, revocations = Clock(), MemoryRevocations(ttl_s=900)
    wired = replace(billing, revocations=revocations, clock=clock, past_due_grace=GRACE)
    subs, events, admin = SubscriptionHandlers(wired), StripeEventHandlers(wired), BillingAdminHandlers(wired)
    async with serve_in_process(
        service_names=SERVICES,
        registrars=[
            lambda server: sub_grpc.add_SubscriptionServiceServicer_to_server(subs, server),
            lambda server: event_grpc.add_StripeEventServiceServicer_to_server(events, server),
            lambda server: admin_grpc.add_BillingAdminServiceServicer_to_server(admin, server),
        ],
        verifier=callers.verifier(),
    ) as served:
        yield Bench(
            wired,
            clock,
            revocations,
            sub_grpc.SubscriptionServiceStub(served.channel),
            event_grpc.StripeEventServiceStub(served.channel),
            admin_grpc.BillingAdminServiceStub(served.channel),
            callers.metadata(subject="service:gateway", roles=("service",), plan=""),
            callers.metadata(subject="admin-1", roles=("admin",)),
        )


def plan_of(store: BusinessStore, user_id: str) -> str:
    with store.transaction() as session:
        return str(session.scalar(select(UserRow.plan).where(UserRow.id == user_id)))


def audits(store: BusinessStore, action: str) -> list[AuditEventRow]:
    with store.transaction() as session:
        rows = list(session.scalars(select(AuditEventRow).where(AuditEventRow.action == action)))
        for row in rows:
            session.expunge(row)
        return rows


def subscribed(
    stripe_api: StripeApi, store: BusinessStore, user_id: str, price: str = PRICE_MONTHLY
) -> dict[str, Any]:
    customer = f"cus_{user_id}_{time.monotonic_ns()}"
    stripe_api.customers[customer] = {"id": customer, "object": "customer"}
    store.units_of_work(SqlBillingUnitOfWork).run_sync(
        lambda uow: uow.customers.add(Customer(user_id, customer))
    )
    return stripe_api.subscription(customer, price, user_id)


async def test_the_ledger_reconciles_with_stripe_after_payments_a_failure_and_refunds(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    sub = subscribed(stripe_api, store, "buyer-1")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    paid = [stripe_api.invoice_for(sub, paid=True) for _ in range(3)]
    declined, declined_charge = stripe_api.invoice_for(sub, paid=False)
    for invoice, _ in paid:
        await bench.send(stripe_api.event("invoice.paid", invoice))
    await bench.send(stripe_api.event("invoice.payment_failed", declined))
    await bench.send(stripe_api.event("invoice.paid", paid[0][0]))  # Stripe delivers one twice

    # An admin refunds 500 of the first charge, then the rest of the second one.
    first, second = paid[0][1]["id"], paid[1][1]["id"]
    partial = await bench.admin.RefundPayment(
        admin_pb.RefundPaymentRequest(payment_id=first, amount_minor=500), metadata=bench.admin_md
    )
    assert (partial.refund.amount_minor, partial.payment.amount_refunded_minor) == (500, 500)
    full = await bench.admin.RefundPayment(
        admin_pb.RefundPaymentRequest(payment_id=second, reason=admin_pb.REFUND_REASON_REQUESTED_BY_CUSTOMER),
        metadata=bench.admin_md,
    )
    assert full.refund.amount_minor == 1900 and full.refund.reason == "requested_by_customer"
    # Stripe then reports the refunded charges (again: same refund ids, nothing counted twice).
    for charge_id in (first, second):
        await bench.send(stripe_api.event("charge.refunded", stripe_api.charges[charge_id]))

    view = await bench.admin.GetBillingCustomer(
        admin_pb.GetBillingCustomerRequest(user_id="buyer-1"), metadata=bench.admin_md
    )
    ours = {
        "invoices": {
            i.invoice_id: (i.status, i.amount_due_minor, i.amount_paid_minor) for i in view.invoices
        },
        "paid": sum(p.amount_minor for p in view.payments if p.status == "succeeded"),
        "refunded": sum(r.amount_minor for r in view.refunds),
        "refunded_by_payment": {p.payment_id: p.amount_refunded_minor for p in view.payments},
    }
    mine = [*(i for i, _ in paid), declined]
    charges = [*(c for _, c in paid), declined_charge]
    stripes = {
        "invoices": {i["id"]: (i["status"], i["amount_due"], i["amount_paid"]) for i in mine},
        "paid": sum(c["amount"] for c in charges if c["status"] == "succeeded"),
        "refunded": sum(c["amount_refunded"] for c in charges),
        "refunded_by_payment": {c["id"]: c["amount_refunded"] for c in charges},
    }
    assert ours == stripes
    assert ours["paid"] == 3 * 1900 and ours["refunded"] == 2400
    assert {p.currency for p in view.payments} == {"usd"}
    assert [p.status for p in view.payments if p.payment_id == declined_charge["id"]] == ["failed"]

    refunds = audits(store, "billing.refund")
    assert [
        (r.before, r.after, r.actor_id, r.subject_id) for r in refunds if r.detail["payment_id"] == first
    ] == [({"amount_refunded_minor": 0}, {"amount_refunded_minor": 500}, "admin-1", "buyer-1")]


async def test_refunds_refuse_bad_amounts_unknown_payments_and_non_admins(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore, callers: TestCallers
) -> None:
    sub = subscribed(stripe_api, store, "buyer-2")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    invoice, charge = stripe_api.invoice_for(sub, paid=True)
    await bench.send(stripe_api.event("invoice.paid", invoice))
    for request, code, field in (
        (
            admin_pb.RefundPaymentRequest(payment_id=charge["id"], amount_minor=1901),
            "INVALID_ARGUMENT",
            "amount_minor",
        ),
        (
            admin_pb.RefundPaymentRequest(payment_id=charge["id"], amount_minor=-1),
            "INVALID_ARGUMENT",
            "amount_minor",
        ),
        (admin_pb.RefundPaymentRequest(payment_id=""), "INVALID_ARGUMENT", "payment_id"),
        (admin_pb.RefundPaymentRequest(payment_id="ch_nope"), "NOT_FOUND", ""),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bench.admin.RefundPayment(request, metadata=bench.admin_md)
        assert refused.value.code().name == code
        if field:
            assert violated_fields(refused.value) == [field]
    with pytest.raises(grpc.aio.AioRpcError) as user:
        await bench.admin.RefundPayment(
            admin_pb.RefundPaymentRequest(payment_id=charge["id"]),
            metadata=callers.metadata(subject="buyer-2"),
        )
    assert user.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert stripe_api.charges[charge["id"]]["amount_refunded"] == 0  # nothing reached Stripe
    with pytest.raises(grpc.aio.AioRpcError) as nobody:
        await bench.admin.GetBillingCustomer(
            admin_pb.GetBillingCustomerRequest(user_id="nobody"), metadata=bench.admin_md
        )
    assert nobody.value.code() == grpc.StatusCode.NOT_FOUND


async def test_past_due_keeps_pro_within_the_grace_and_the_sweep_ends_it_at_once(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore, callers: TestCallers
) -> None:
    sub = subscribed(stripe_api, store, "buyer-1")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    assert plan_of(store, "buyer-1") == "pro"
    pro_token_at = time.time()
    failed_at = int(bench.clock.now.timestamp())
    stripe_api.subscriptions[sub["id"]]["status"] = "past_due"
    await bench.send(
        stripe_api.event("customer.subscription.updated", {**sub, "status": "past_due"}, created=failed_at)
    )
    invoice = stripe_api.fail_invoice(sub["id"])
    await bench.send(stripe_api.event("invoice.payment_failed", invoice, created=failed_at + 1))
    me = callers.metadata(subject="buyer-1")
    mine = await bench.subscriptions.GetSubscription(sub_pb.GetSubscriptionRequest(), metadata=me)
    assert (mine.subscription.status, mine.subscription.plan) == ("past_due", "pro")
    assert mine.subscription.grace_ends_at.seconds == failed_at + int(GRACE.total_seconds())
    assert mine.invoices[0].status == "open" and mine.next_invoice.amount_minor == 1900

    bench.clock.now = datetime.fromtimestamp(failed_at, UTC) + GRACE - timedelta(seconds=1)
    assert (await maintenance.sweep(bench.billing)).downgraded == 0  # still within the grace
    assert plan_of(store, "buyer-1") == "pro"

    bench.clock.now = datetime.fromtimestamp(failed_at, UTC) + GRACE + timedelta(seconds=1)
    assert (await maintenance.sweep(bench.billing)).downgraded == 1
    assert plan_of(store, "buyer-1") == "free"
    caller = Caller(
        "buyer-1", frozenset({"user"}), "pro", issued_at=pro_token_at, expires_at=pro_token_at + 900
    )
    assert await bench.revocations.is_revoked(caller)  # the pro token stops working at once
    assert (await maintenance.sweep(bench.billing)).downgraded == 0  # once only
    changed = audits(store, "billing.plan_changed")
    assert changed[-1].after == {"plan": "free"} and changed[-1].detail == {
        "reason": "past_due grace period over"
    }

    # A late payment makes it active again: pro again.
    await bench.send(stripe_api.event("invoice.paid", stripe_api.pay_invoice(sub["id"])))
    active = {**sub, "status": "active"}
    await bench.send(stripe_api.event("customer.subscription.updated", active, created=failed_at + 4 * 86400))
    assert plan_of(store, "buyer-1") == "pro"


async def test_a_failed_event_is_retried_with_backoff_listed_for_admins_and_retried_now(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    sub = stripe_api.subscription("cus_orphan", PRICE_MONTHLY, "")
    event = stripe_api.event("customer.subscription.created", sub)
    with pytest.raises(grpc.aio.AioRpcError):
        await bench.send(event)
    start = bench.clock.now

    def stored() -> WebhookEventRow:
        with store.transaction() as session:
            row = session.get(WebhookEventRow, event["id"])
            assert row is not None
            session.expunge(row)
            return row

    assert (stored().attempts, stored().next_attempt_at) == (1, start + bench.billing.retry_base)
    assert await maintenance.retry_due_events(bench.billing) == (0, 0)  # not due yet
    bench.clock.now = start + bench.billing.retry_base
    assert await maintenance.retry_due_events(bench.billing) == (0, 1)
    assert (stored().attempts, stored().next_attempt_at) == (
        2,
        bench.clock.now + 2 * bench.billing.retry_base,
    )

    listed = await bench.admin.ListStripeEvents(admin_pb.ListStripeEventsRequest(), metadata=bench.admin_md)
    failing = [e for e in listed.events if e.event_id == event["id"]]
    assert failing and failing[0].attempts == 2 and "no known user" in failing[0].last_error

    failed_again = await bench.admin.RetryStripeEvent(
        admin_pb.RetryStripeEventRequest(event_id=event["id"]), metadata=bench.admin_md
    )
    assert not failed_again.event.HasField("processed_at") and failed_again.event.attempts == 3
    store.units_of_work(SqlBillingUnitOfWork).run_sync(
        lambda uow: uow.customers.add(Customer("buyer-2", "cus_orphan"))
    )
    retried = await bench.admin.RetryStripeEvent(
        admin_pb.RetryStripeEventRequest(event_id=event["id"]), metadata=bench.admin_md
    )
    assert retried.event.HasField("processed_at") and not retried.event.HasField("next_attempt_at")
    assert plan_of(store, "buyer-2") == "pro"
    # Each retry is the admin's action on the audit log, with what it came to.
    retries = sorted(audits(store, "billing.event_retried"), key=lambda a: a.before["attempts"])
    assert [(a.actor_id, a.outcome, a.detail["event_id"]) for a in retries] == [
        ("admin-1", "failed", event["id"]),
        ("admin-1", "succeeded", event["id"]),
    ]
    assert [(a.before["processed"], a.after["processed"]) for a in retries] == [(False, False), (False, True)]
    listed = await bench.admin.ListStripeEvents(admin_pb.ListStripeEventsRequest(), metadata=bench.admin_md)
    assert event["id"] not in {e.event_id for e in listed.events}
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await bench.admin.RetryStripeEvent(
            admin_pb.RetryStripeEventRequest(event_id="evt_nope"), metadata=bench.admin_md
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_switching_monthly_to_yearly_is_prorated_audited_and_counted_in_mrr(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore, callers: TestCallers
) -> None:
    sub = subscribed(stripe_api, store, "buyer-2")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    me = callers.metadata(subject="buyer-2")
    before = await bench.admin.GetBillingFigures(admin_pb.GetBillingFiguresRequest(), metadata=bench.admin_md)

    yearly = await bench.subscriptions.ChangeBillingInterval(
        sub_pb.ChangeBillingIntervalRequest(interval=plan_pb.BILLING_INTERVAL_YEARLY), metadata=me
    )
    assert (yearly.subscription.interval, yearly.subscription.amount_minor) == (
        plan_pb.BILLING_INTERVAL_YEARLY,
        19000,
    )
    item = stripe_api.subscriptions[sub["id"]]["items"]["data"]
    assert len(item) == 1 and item[0]["price"]["id"] == PRICE_YEARLY  # replaced, not added
    assert stripe_api.prorations[-1]["subscription"] == sub["id"]
    assert stripe_api.prorations[-1]["behavior"] == "always_invoice"
    calls = len(stripe_api.requests)
    again = await bench.subscriptions.ChangeBillingInterval(
        sub_pb.ChangeBillingIntervalRequest(interval=plan_pb.BILLING_INTERVAL_YEARLY), metadata=me
    )
    assert (
        again.subscription.interval == plan_pb.BILLING_INTERVAL_YEARLY and len(stripe_api.requests) == calls
    )
    changed = [a for a in audits(store, "billing.subscription.interval_changed") if a.subject_id == "buyer-2"]
    assert changed[-1].before["interval"] == "monthly" and changed[-1].after["interval"] == "yearly"

    after = await bench.admin.GetBillingFigures(admin_pb.GetBillingFiguresRequest(), metadata=bench.admin_md)
    assert after.mrr_minor - before.mrr_minor in (19000 // 12 - 1900, 19000 // 12 - 1900 + 1)
    assert after.active_subscriptions == before.active_subscriptions

    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await bench.subscriptions.ChangeBillingInterval(sub_pb.ChangeBillingIntervalRequest(), metadata=me)
    assert violated_fields(bad.value) == ["interval"]
    with pytest.raises(grpc.aio.AioRpcError) as none:
        await bench.subscriptions.ChangeBillingInterval(
            sub_pb.ChangeBillingIntervalRequest(interval=plan_pb.BILLING_INTERVAL_MONTHLY),
            metadata=callers.metadata(subject="buyer-1"),
        )
    assert none.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_figures_count_active_mrr_and_churn(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    def figures() -> Any:
        return bench.admin.GetBillingFigures(admin_pb.GetBillingFiguresRequest(), metadata=bench.admin_md)

    before = await figures()
    month_ago = int(time.time()) - 40 * 86400
    old = {**subscribed(stripe_api, store, "buyer-1"), "created": month_ago, "start_date": month_ago}
    await bench.send(stripe_api.event("customer.subscription.created", old, created=month_ago))
    yearly = subscribed(stripe_api, store, "buyer-2", PRICE_YEARLY)
    await bench.send(stripe_api.event("customer.subscription.created", yearly))
    live = await figures()
    assert live.active_subscriptions - before.active_subscriptions == 2
    assert live.mrr_minor - before.mrr_minor == 1900 + 19000 // 12
    assert live.live_30_days_ago - before.live_30_days_ago == 1

    await bench.send(
        stripe_api.event(
            "customer.subscription.deleted",
            {**old, "status": "canceled", "ended_at": int(bench.clock.now.timestamp()) - 1},
        )
    )
    ended = await figures()
    assert ended.churned_last_30_days - before.churned_last_30_days == 1
    assert ended.mrr_minor - before.mrr_minor == 19000 // 12
    assert ended.churn_rate == pytest.approx(ended.churned_last_30_days / ended.live_30_days_ago)


async def test_newer_api_shapes_invoice_parent_and_charge_events_reach_the_ledger(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    """Since API version 2025-03-31 an invoice names its subscription under
    parent.subscription_details and no longer its charge: charge.succeeded records the payment."""
    sub = subscribed(stripe_api, store, "buyer-2")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    invoice, charge = stripe_api.invoice_for(sub, paid=True)
    newer = {k: v for k, v in invoice.items() if k not in ("charge", "subscription")}
    newer["parent"] = {"type": "subscription_details", "subscription_details": {"subscription": sub["id"]}}
    assert (await bench.send(stripe_api.event("invoice.paid", newer))).ignored is False
    assert ("GET", f"/v1/subscriptions/{sub['id']}") in stripe_api.requests
    await bench.send(
        stripe_api.event("charge.succeeded", {k: v for k, v in charge.items() if k != "invoice"})
    )
    view = await bench.admin.GetBillingCustomer(
        admin_pb.GetBillingCustomerRequest(user_id="buyer-2"), metadata=bench.admin_md
    )
    assert [(i.invoice_id, i.subscription_id, i.amount_paid_minor) for i in view.invoices] == [
        (invoice["id"], sub["id"], 1900)
    ]
    assert [(p.payment_id, p.status, p.amount_minor) for p in view.payments] == [
        (charge["id"], "succeeded", 1900)
    ]


async def test_an_event_stored_but_never_applied_is_picked_up_by_the_sweep(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    """The process stopped between storing an event and applying it: the sweep applies it."""
    sub = subscribed(stripe_api, store, "buyer-1")
    event = stripe_api.event("customer.subscription.created", sub)
    stored = stored_event_of(event)
    store.units_of_work(SqlBillingUnitOfWork).run_sync(lambda uow: uow.events.add(stored, bench.clock.now))
    assert await maintenance.retry_due_events(bench.billing) == (0, 0)  # may still be in flight
    bench.clock.now += maintenance.STRANDED_AFTER
    assert await maintenance.retry_due_events(bench.billing) == (1, 0)
    assert plan_of(store, "buyer-1") == "pro"


async def test_an_event_from_the_same_second_as_the_stored_state_re_reads_the_subscription(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore, callers: TestCallers
) -> None:
    """Stripe dates events to the second: in doubt about the order, Stripe's current state wins."""
    sub = subscribed(stripe_api, store, "buyer-1")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    me = callers.metadata(subject="buyer-1")
    await bench.subscriptions.CancelSubscription(sub_pb.CancelSubscriptionRequest(), metadata=me)
    with store.transaction() as session:
        stored_at = session.get(SubscriptionRow, sub["id"]).state_at  # type: ignore[union-attr]
    ended = {**stripe_api.subscriptions[sub["id"]], "status": "canceled"}
    stripe_api.subscriptions[sub["id"]] = ended
    reads = stripe_api.requests.count(("GET", f"/v1/subscriptions/{sub['id']}"))
    same_second = int(stored_at.timestamp())  # truncated: "older" than the stored state, by < 1 s
    await bench.send(stripe_api.event("customer.subscription.deleted", ended, created=same_second))
    assert stripe_api.requests.count(("GET", f"/v1/subscriptions/{sub['id']}")) == reads + 1
    assert plan_of(store, "buyer-1") == "free"
    # A clearly older event changes nothing and reads nothing.
    stale = stripe_api.event(
        "customer.subscription.updated", {**sub, "status": "active"}, created=same_second - 60
    )
    assert (await bench.send(stale)).ignored is True
    assert stripe_api.requests.count(("GET", f"/v1/subscriptions/{sub['id']}")) == reads + 1
    assert plan_of(store, "buyer-1") == "free"


async def test_an_old_subscription_described_later_never_outweighs_the_live_one(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore, callers: TestCallers
) -> None:
    """An ended subscription whose late invoice is paid is the most recently described one: the
    plan, what the user sees and what they cancel stay with the live one."""
    live = subscribed(stripe_api, store, "buyer-1")
    old = stripe_api.subscription(live["customer"], PRICE_MONTHLY, "buyer-1", status="canceled")
    long_ago = int(time.time()) - 90 * 86400
    await bench.send(stripe_api.event("customer.subscription.deleted", old, created=long_ago))
    await bench.send(stripe_api.event("customer.subscription.created", live))
    late, _ = stripe_api.invoice_for(old, paid=True)
    await bench.send(stripe_api.event("invoice.paid", late))  # re-reads `old` from Stripe: dated now
    with store.transaction() as session:
        assert (
            session.get(SubscriptionRow, old["id"]).state_at
            > session.get(SubscriptionRow, live["id"]).state_at
        )  # type: ignore[union-attr]
    assert plan_of(store, "buyer-1") == "pro"

    me = callers.metadata(subject="buyer-1")
    mine = await bench.subscriptions.GetSubscription(sub_pb.GetSubscriptionRequest(), metadata=me)
    assert (mine.subscription.subscription_id, mine.subscription.plan) == (live["id"], "pro")
    await bench.subscriptions.CancelSubscription(sub_pb.CancelSubscriptionRequest(), metadata=me)
    assert stripe_api.subscriptions[live["id"]]["cancel_at_period_end"] is True
    view = await bench.admin.GetBillingCustomer(
        admin_pb.GetBillingCustomerRequest(user_id="buyer-1"), metadata=bench.admin_md
    )
    assert view.subscription.subscription_id == live["id"]
    # The sweep, which sets plans too, agrees.
    await maintenance.sweep(bench.billing)
    assert plan_of(store, "buyer-1") == "pro"


async def test_a_refund_is_audited_before_stripe_is_called(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    """Stripe refunds, then storing its answer may fail: the request's audit row is there anyway
    (here Stripe refuses, so the only row is the request)."""
    sub = subscribed(stripe_api, store, "buyer-2")
    await bench.send(stripe_api.event("customer.subscription.created", sub))
    invoice, charge = stripe_api.invoice_for(sub, paid=True)
    await bench.send(stripe_api.event("invoice.paid", invoice))
    stripe_api.charges[charge["id"]]["amount_refunded"] = 1900  # refunded in Stripe's dashboard
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await bench.admin.RefundPayment(
            admin_pb.RefundPaymentRequest(payment_id=charge["id"], amount_minor=700), metadata=bench.admin_md
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    asked = [(a.actor_id, a.subject_id, a.detail) for a in audits(store, "billing.refund.requested")]
    assert asked == [
        (
            "admin-1",
            "buyer-2",
            {
                "payment_id": charge["id"],
                "amount_minor": 700,
                "reason": "",
                "idempotency_key": f"refund-{charge['id']}-0-700",
            },
        )
    ]
    assert audits(store, "billing.refund") == []


async def test_an_event_that_breaks_the_code_stops_no_other_event_of_the_sweep(
    bench: Bench, stripe_api: StripeApi, store: BusinessStore
) -> None:
    sub = subscribed(stripe_api, store, "buyer-1")
    junk = stripe_api.event(
        "charge.succeeded",
        {"id": "ch_junk", "object": "charge", "customer": sub["customer"], "amount": "not a number"},
        created=int(time.time()) - 60,  # the older: the sweep takes it first
    )
    good = stripe_api.event("customer.subscription.created", sub)
    for event in (junk, good):  # stored, never applied (the process stopped in between)
        stored = stored_event_of(event)
        store.units_of_work(SqlBillingUnitOfWork).run_sync(
            lambda uow, e=stored: uow.events.add(e, bench.clock.now)
        )
    bench.clock.now += maintenance.STRANDED_AFTER
    assert await maintenance.retry_due_events(bench.billing) == (1, 1)
    assert plan_of(store, "buyer-1") == "pro"
    with store.transaction() as session:
        row = session.get(WebhookEventRow, junk["id"])
        assert row is not None and (row.processed_at, row.attempts) == (None, 1)
        assert row.last_error.startswith("ValueError:")
        assert row.next_attempt_at == bench.clock.now + bench.billing.retry_base
