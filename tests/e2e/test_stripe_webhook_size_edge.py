"""Stripe's webhook through Envoy takes events as large as the gateway's receiver does (512 KiB), not
the 16 KiB of the gateway's other paths: a signed event past 16 KiB (an object with full metadata:
50 keys of up to 500 characters each) reaches the receiver and is applied; past 512 KiB the edge
refuses it itself."""

from __future__ import annotations

import json

from tests.e2e.accounts import ok, register_verified, tokens_of
from tests.e2e.test_billing_edge import claims_of, deliver, get, stored_event
from tests.support.smtp_sink import SmtpSink
from tests.support.stripe_api import StripeApi, sign_payload
from tools.supervisor import Stack

KIB = 1024


def test_a_signed_event_larger_than_16_kib_reaches_the_receiver(
    stack: Stack, smtp_sink: SmtpSink, stripe_api: StripeApi
) -> None:
    email = register_verified(smtp_sink)
    user_id = ok(get("/api/users/me", tokens_of(email)["accessToken"]))["user"]["id"]
    sub = stripe_api.subscription("cus_none", "price_pro_monthly", user_id)
    sub["metadata"].update({f"note_{n}": "n" * 500 for n in range(40)})
    event = stripe_api.event("customer.subscription.created", sub)
    payload = json.dumps(event).encode()
    assert 16 * KIB < len(payload) < 32 * KIB

    reply = deliver(payload, sign_payload(payload, stripe_api.webhook_secret))
    assert reply.status_code == 200, reply.text  # was Envoy's 413: Stripe retried, then gave up
    assert reply.json()["event_id"] == event["id"] and reply.json()["duplicate"] is False
    row = stored_event(stack, event["id"])
    assert row is not None and row.processed_at is not None
    assert claims_of(tokens_of(email)["accessToken"])["plan"] == "pro"


def test_a_body_past_the_receivers_limit_is_refused_at_the_edge(stack: Stack, stripe_api: StripeApi) -> None:
    payload = json.dumps({"id": "evt_huge", "object": "event", "pad": "x" * (512 * KIB)}).encode()
    reply = deliver(payload, sign_payload(payload, stripe_api.webhook_secret))
    assert reply.status_code == 413 and reply.json()["error"] == "payload_too_large"
    assert stored_event(stack, "evt_huge") is None
