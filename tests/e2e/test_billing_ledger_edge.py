"""Billing's ledger and admin through Envoy, on the real stack with the real `stripe` SDK talking
to the local Stripe: a renewal paid and one declined land in the user's invoices; an admin sees the
customer, refunds part of a payment (Stripe's charge.refunded then changes nothing twice) and the
figures; switching monthly -> yearly is prorated; two webhooks for one subscription at once end in
the newer state; admins only, and bad input is 400 naming the field."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tests.e2e.accounts import ok, post, register_verified, tokens_of
from tests.e2e.test_billing_edge import deliver, get
from tests.support.smtp_sink import SmtpSink
from tests.support.stripe_api import StripeApi, sign_payload
from tools.supervisor import Stack

WEBHOOK = f"{EDGE}/api/billing/webhooks/stripe"


def subscribe(smtp_sink: SmtpSink, stripe_api: StripeApi) -> tuple[str, str, str]:
    """(email, user id, subscription id) of a new user who paid monthly pro through checkout."""
    stripe_api.webhook_url = WEBHOOK
    email = register_verified(smtp_sink)
    token = tokens_of(email)["accessToken"]
    user_id = ok(get("/api/users/me", token))["user"]["id"]
    checkout = ok(post("/api/billing/checkout-sessions", {"interval": "BILLING_INTERVAL_MONTHLY"}, token))
    assert httpx.post(f"{checkout['url']}/pay").status_code == 303
    sub_id = ok(get("/api/billing/subscription", tokens_of(email)["accessToken"]))["subscription"][
        "subscriptionId"
    ]
    return email, user_id, sub_id


def admin_get(path: str, admin: str) -> dict[str, Any]:
    return ok(httpx.get(f"{EDGE}{path}", headers=bearer(admin), timeout=30))


def test_invoices_admin_refund_figures_and_interval_switch(
    stack: Stack, smtp_sink: SmtpSink, stripe_api: StripeApi, keys: SigningKeyStore
) -> None:
    email, user_id, sub_id = subscribe(smtp_sink, stripe_api)
    admin = keys.sign(claims(sub="admin-billing", roles=["admin"]))
    renewal = stripe_api.pay_invoice(sub_id)
    mine = ok(get("/api/billing/subscription", tokens_of(email)["accessToken"]))
    assert renewal["id"] in {i["invoiceId"] for i in mine["invoices"]} and len(mine["invoices"]) == 2
    assert {(i["status"], i["amountPaidMinor"]) for i in mine["invoices"]} == {("paid", "1900")}
    assert mine["nextInvoice"]["amountMinor"] == "1900" and mine["nextInvoice"]["currency"] == "usd"

    customer = admin_get(f"/api/admin/billing/customers/{user_id}", admin)
    assert customer["stripeCustomerId"].startswith("cus_") and len(customer["payments"]) == 2
    payment = next(p for p in customer["payments"] if p["invoiceId"] == renewal["id"])
    path = f"/api/admin/billing/payments/{payment['paymentId']}/refunds"
    assert post(path, {"amountMinor": "700"}, tokens_of(email)["accessToken"]).status_code == 403
    too_much = post(path, {"amountMinor": "5000"}, admin)
    assert too_much.status_code == 400 and "amount_minor" in too_much.text
    refunded = ok(post(path, {"amountMinor": "700", "reason": "REFUND_REASON_REQUESTED_BY_CUSTOMER"}, admin))
    assert refunded["payment"]["amountRefundedMinor"] == "700"
    charge = stripe_api.charges[payment["paymentId"]]
    assert charge["amount_refunded"] == 700
    assert stripe_api.deliver("charge.refunded", charge).status_code == 200  # Stripe reports it
    after = admin_get(f"/api/admin/billing/customers/{user_id}", admin)
    assert [r["amountMinor"] for r in after["refunds"]] == ["700"]
    ledger = {p["paymentId"]: int(p.get("amountRefundedMinor", "0")) for p in after["payments"]}
    assert ledger == {cid: stripe_api.charges[cid]["amount_refunded"] for cid in ledger}  # reconciles

    figures = admin_get("/api/admin/billing/figures", admin)
    assert int(figures["activeSubscriptions"]) >= 1 and int(figures["mrrMinor"]) >= 1900
    assert "events" in admin_get("/api/admin/billing/events?includeProcessed=true&limit=5", admin)

    pro = tokens_of(email)["accessToken"]
    switched = ok(post("/api/billing/subscription/interval", {"interval": "BILLING_INTERVAL_YEARLY"}, pro))
    assert switched["subscription"]["interval"] == "BILLING_INTERVAL_YEARLY"
    assert switched["subscription"]["amountMinor"] == "19000"
    assert stripe_api.prorations[-1]["subscription"] == sub_id
    bad = post("/api/billing/subscription/interval", {}, pro)
    assert bad.status_code == 400 and "interval" in bad.text


def test_two_webhooks_for_one_subscription_at_once_end_in_the_newer_state(
    stack: Stack, smtp_sink: SmtpSink, stripe_api: StripeApi
) -> None:
    email, _, sub_id = subscribe(smtp_sink, stripe_api)
    subscription = stripe_api.subscriptions[sub_id]
    t0 = int(time.time()) + 10
    for round_ in range(3):
        at = t0 + round_ * 100
        newer = stripe_api.event(
            "customer.subscription.updated", {**subscription, "status": "canceled"}, created=at + 5
        )
        older = stripe_api.event(
            "customer.subscription.updated", {**subscription, "status": "active"}, created=at
        )
        payloads = [json.dumps(e).encode() for e in (newer, older)]
        with ThreadPoolExecutor(2) as pool:
            replies = list(
                pool.map(lambda p: deliver(p, sign_payload(p, stripe_api.webhook_secret)), payloads)
            )
        assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
        state = ok(get("/api/billing/subscription", tokens_of(email)["accessToken"]))["subscription"]
        assert (state["status"], state["plan"]) == ("canceled", "free")
        # The next round starts active again (newer than this round's events).
        revived = stripe_api.event(
            "customer.subscription.updated", {**subscription, "status": "active"}, created=at + 50
        )
        payload = json.dumps(revived).encode()
        assert deliver(payload, sign_payload(payload, stripe_api.webhook_secret)).status_code == 200


def test_cancel_at_period_end_keeps_pro_until_stripe_ends_the_subscription(
    stack: Stack, smtp_sink: SmtpSink, stripe_api: StripeApi
) -> None:
    email, _, sub_id = subscribe(smtp_sink, stripe_api)
    pro = tokens_of(email)["accessToken"]
    cancelled = ok(post("/api/billing/subscription/cancel", {}, pro))["subscription"]
    assert (cancelled["cancelAtPeriodEnd"], cancelled["plan"]) == (True, "pro")
    mine = ok(get("/api/billing/subscription", pro))
    assert "nextInvoice" not in mine  # it will not renew
    assert get("/api/users/me", pro).status_code == 200  # pro until the period ends

    # The period ends: Stripe deletes the subscription and says so.
    ended = {**stripe_api.subscriptions[sub_id], "status": "canceled", "ended_at": int(time.time())}
    stripe_api.subscriptions[sub_id] = ended
    assert stripe_api.deliver("customer.subscription.deleted", ended).status_code == 200
    assert get("/api/users/me", pro).status_code == 401  # the pro token is revoked at once
    free = tokens_of(email)["accessToken"]
    state = ok(get("/api/billing/subscription", free))["subscription"]
    assert (state["status"], state["plan"]) == ("canceled", "free")
