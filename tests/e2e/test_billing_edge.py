"""Billing through Envoy, on the real stack with the real `stripe` SDK talking to a local server
speaking Stripe's API: checkout -> Stripe's webhooks (signed as Stripe signs them) through the
gateway -> the user's plan is pro in new tokens and pro RPCs pass the edge; cancel at period end
and resume; a failed payment -> past_due -> the grace period (BILLING_PAST_DUE_GRACE_S, 3 s in the
test stack) over -> free and refused at once; duplicate, out-of-order, badly signed and replayed
webhooks."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
from sqlalchemy import select

from business.billing.data.tables import WebhookEventRow
from business.shared.database import BusinessStore
from tests.conftest import EDGE, bearer
from tests.e2e.accounts import ok, post, register_verified, tokens_of
from tests.support.smtp_sink import SmtpSink
from tests.support.stripe_api import StripeApi, sign_payload
from tools.supervisor import Stack

WEBHOOK = f"{EDGE}/api/billing/webhooks/stripe"
RISK = "/api/courses/risk-take-profit-stop-loss-atr-sizing"


def claims_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    parsed: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return parsed


def get(path: str, token: str = "") -> httpx.Response:
    return httpx.get(f"{EDGE}{path}", headers=bearer(token) if token else {}, timeout=30)


def deliver(payload: bytes, signature: str) -> httpx.Response:
    return httpx.post(
        WEBHOOK, content=payload, headers={"Stripe-Signature": signature, "content-type": "application/json"}
    )


def stored_event(stack: Stack, event_id: str) -> WebhookEventRow | None:
    store = BusinessStore(stack.env["DATABASE_URL"])
    try:
        with store.transaction() as session:
            row = session.scalars(select(WebhookEventRow).where(WebhookEventRow.id == event_id)).first()
            if row is not None:
                session.expunge(row)
            return row
    finally:
        store.close()


def test_checkout_webhooks_plan_cancel_resume_and_payment_failed(
    stack: Stack, smtp_sink: SmtpSink, stripe_api: StripeApi
) -> None:
    stripe_api.webhook_url = WEBHOOK
    email = register_verified(smtp_sink)
    free = tokens_of(email)["accessToken"]
    assert claims_of(free)["plan"] == "free"
    assert post("/api/billing/checkout-sessions", {"interval": "BILLING_INTERVAL_MONTHLY"}).status_code == 401
    bad = post("/api/billing/checkout-sessions", {}, free)
    assert bad.status_code == 400 and "interval" in bad.text

    checkout = ok(post("/api/billing/checkout-sessions", {"interval": "BILLING_INTERVAL_MONTHLY"}, free))
    assert checkout["url"] == f"{stripe_api.base_url}/checkout/{checkout['sessionId']}"
    page = httpx.get(checkout["url"])
    assert page.status_code == 200 and "19.00 usd / month" in page.text
    # Paying on the hosted page completes the session; Stripe's events arrive through Envoy.
    paid = httpx.post(f"{checkout['url']}/pay")
    assert paid.status_code == 303 and paid.headers["location"].endswith(
        f"session_id={checkout['sessionId']}"
    )

    assert get("/api/users/me", free).status_code == 401  # the plan changed: older tokens are revoked
    pro = tokens_of(email)["accessToken"]
    assert claims_of(pro)["plan"] == "pro"
    subscription = ok(get("/api/billing/subscription", pro))["subscription"]
    assert (subscription["plan"], subscription["status"], subscription["interval"]) == (
        "pro",
        "active",
        "BILLING_INTERVAL_MONTHLY",
    )
    course = ok(get(RISK))["course"]["card"]["courseId"]
    ok(post(f"/api/learning/pro-courses/{course}/enrollment", {}, pro))  # pro passes the edge

    cancelled = ok(post("/api/billing/subscription/cancel", {}, pro))["subscription"]
    assert cancelled["cancelAtPeriodEnd"] is True and cancelled["plan"] == "pro"
    resumed = ok(post("/api/billing/subscription/resume", {}, pro))["subscription"]
    assert resumed["cancelAtPeriodEnd"] is False
    portal = ok(post("/api/billing/portal-sessions", {}, pro))
    assert portal["url"].startswith(f"{stripe_api.base_url}/portal/")

    # A failed payment: Stripe marks the subscription past_due and says so; pro is kept for the
    # grace period, then the business sweep makes the plan free and revokes the pro token at once.
    sub_id = subscription["subscriptionId"]
    stripe_api.fail_invoice(sub_id)
    past_due = ok(get("/api/billing/subscription", pro))
    assert past_due["subscription"]["status"] == "past_due" and past_due["subscription"]["graceEndsAt"]
    assert sorted(i["status"] for i in past_due["invoices"]) == ["open", "paid"]
    deadline = time.monotonic() + 60
    while get("/api/users/me", pro).status_code != 401:
        assert time.monotonic() < deadline, "the grace period never ended"
        time.sleep(0.25)
    again = tokens_of(email)["accessToken"]
    assert claims_of(again)["plan"] == "free"
    refused = post(f"/api/learning/pro-courses/{course}/enrollment", {}, again)
    assert refused.status_code == 403 and "requires plan pro" in refused.json()["message"]


def test_duplicate_bad_signature_replay_and_out_of_order_webhooks(
    stack: Stack, smtp_sink: SmtpSink, stripe_api: StripeApi
) -> None:
    email = register_verified(smtp_sink)
    user_id = ok(get("/api/users/me", tokens_of(email)["accessToken"]))["user"]["id"]
    sub = stripe_api.subscription("cus_none", "price_pro_monthly", user_id)
    t0 = int(time.time())
    created = json.dumps(stripe_api.event("customer.subscription.created", sub, created=t0)).encode()
    event_id = json.loads(created)["id"]

    forged = deliver(created, sign_payload(created, "whsec_not_the_secret"))
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_argument"
    replayed = deliver(created, sign_payload(created, stripe_api.webhook_secret, at=t0 - 3600))
    assert replayed.status_code == 400 and "tolerance" in replayed.json()["message"].lower()
    assert deliver(created, "").status_code == 400
    assert stored_event(stack, event_id) is None  # nothing stored for any of them

    first = deliver(created, sign_payload(created, stripe_api.webhook_secret))
    assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
    duplicate = deliver(created, sign_payload(created, stripe_api.webhook_secret))
    assert duplicate.status_code == 200 and duplicate.json()["duplicate"] is True
    assert claims_of(tokens_of(email)["accessToken"])["plan"] == "pro"

    newer = stripe_api.event("customer.subscription.deleted", {**sub, "status": "canceled"}, created=t0 + 60)
    older = stripe_api.event("customer.subscription.updated", {**sub, "status": "active"}, created=t0 + 30)
    for event in (newer, older):  # delivered out of order
        payload = json.dumps(event).encode()
        assert deliver(payload, sign_payload(payload, stripe_api.webhook_secret)).status_code == 200
    assert claims_of(tokens_of(email)["accessToken"])["plan"] == "free"  # the older event changed nothing
    row = stored_event(stack, older["id"])
    assert row is not None and row.processed_at is not None
