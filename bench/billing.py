"""Billing benchmark: Stripe webhook events processed per second, every figure from one run:

    python -m bench.billing [--users 200] [--concurrency 8]   (make bench-billing)

Each of N users has a monthly pro subscription (created by an unmeasured warm-up pass) at the
local Stripe stand-in (tests/support/stripe_api.py, which the real `stripe` SDK talks to).
Events, signed and shaped as Stripe sends them, go through:

1. the signature check the gateway does (`stripe.Webhook.construct_event`), alone;
2. what StripeEventService/RecordStripeEvent runs in business (webhooks.record_event: store by
   id, apply, ledger, plan, audit; the gRPC hop from the gateway is not included): one at a time,
   then `--concurrency` at once;
   - customer.subscription.updated (the state is in the event),
   - invoice.paid (the subscription re-fetched from Stripe, the invoice and its charge stored),
   - charge.refunded (charge and refund stored),
   - duplicates of processed events (a lookup by id, nothing applied).

SQLite in a temp folder by default; DATABASE_URL=postgresql://... measures PostgreSQL (its
`financial` schema, migrated first). Nothing else is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import stripe

from business.billing.data.repositories import SqlBillingUnitOfWork
from business.billing.domain.entities import Customer
from business.billing.domain.webhooks import record_event
from business.billing.wiring import build_billing
from business.config import BusinessSettings
from business.identity.data.tables import UserRow
from business.shared.database import BusinessStore, migrate
from service_runtime.revocations import MemoryRevocations
from tests.support.stripe_api import PRICE_MONTHLY, StripeApi, sign_payload


def seed(store: BusinessStore, stripe_api: StripeApi, users: int) -> list[dict[str, Any]]:
    """N accounts, each with a Stripe customer and an active monthly subscription."""
    run = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    subscriptions = []
    with store.transaction() as session:
        for n in range(users):
            user_id = f"bench-{run}-{n}"
            session.add(
                UserRow(
                    id=user_id,
                    email=f"{user_id}@bench.invalid",
                    display_name=user_id,
                    role="user",
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
    customers = [Customer(f"bench-{run}-{n}", f"cus_{run}_{n}") for n in range(users)]

    def link(uow: SqlBillingUnitOfWork) -> None:
        for customer in customers:
            uow.customers.add(customer)

    store.units_of_work(SqlBillingUnitOfWork).run_sync(link)
    for customer in customers:
        stripe_api.customers[customer.stripe_customer_id] = {
            "id": customer.stripe_customer_id,
            "object": "customer",
        }
        subscriptions.append(
            stripe_api.subscription(customer.stripe_customer_id, PRICE_MONTHLY, customer.user_id)
        )
    return subscriptions


async def rate(events: list[bytes], send: Callable[[bytes], Awaitable[Any]], concurrency: int) -> float:
    """Events per second, `concurrency` in flight."""
    queue = list(events)
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            await send(queue.pop())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(events) / (time.perf_counter() - started)


def signature_rate(payloads: list[bytes], secret: str) -> float:
    headers = [sign_payload(p, secret) for p in payloads]
    started = time.perf_counter()
    for payload, header in zip(payloads, headers, strict=True):
        stripe.Webhook.construct_event(payload, header, secret, tolerance=300)
    return len(payloads) / (time.perf_counter() - started)


async def main_async(args: argparse.Namespace) -> list[tuple[str, int, float]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-billing-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'business.db'}"
    migrate(url)
    store = BusinessStore(url)
    results: list[tuple[str, int, float]] = []
    with StripeApi() as stripe_api:
        env = {k.lower(): v for k, v in stripe_api.env().items() if k != "STRIPE_WEBHOOK_SECRET"}
        settings = BusinessSettings(_env_file=None, **env)  # type: ignore[arg-type]
        billing = replace(build_billing(settings, store), revocations=MemoryRevocations(ttl_s=900))
        subscriptions = seed(store, stripe_api, args.users)

        async def send(payload: bytes) -> None:
            await record_event(billing, payload)

        t = int(time.time())
        # Warm-up, not measured: every subscription created (plans become pro, caches warm).
        created = [
            json.dumps(stripe_api.event("customer.subscription.created", s, created=t)).encode()
            for s in subscriptions
        ]
        await rate(created, send, args.concurrency)
        for concurrency in (1, args.concurrency):
            t += 10
            updated = [
                json.dumps(stripe_api.event("customer.subscription.updated", s, created=t)).encode()
                for s in subscriptions
            ]
            results.append(
                ("customer.subscription.updated", concurrency, await rate(updated, send, concurrency))
            )
            paid = [
                json.dumps(stripe_api.event("invoice.paid", stripe_api.invoice_for(s, paid=True)[0])).encode()
                for s in subscriptions
            ]
            results.append(
                ("invoice.paid (+ Stripe re-fetch)", concurrency, await rate(paid, send, concurrency))
            )
            refunded = []
            for s in subscriptions:
                _, charge = stripe_api.invoice_for(s, paid=True)
                charge["amount_refunded"] = 100
                charge["refunds"]["data"] = [
                    {
                        "id": f"re_{uuid.uuid4().hex[:16]}",
                        "amount": 100,
                        "charge": charge["id"],
                        "status": "succeeded",
                    }
                ]
                refunded.append(json.dumps(stripe_api.event("charge.refunded", charge)).encode())
            results.append(("charge.refunded", concurrency, await rate(refunded, send, concurrency)))
            results.append(("duplicate (no-op)", concurrency, await rate(updated, send, concurrency)))
        results.append(
            ("signature check only (gateway)", 1, signature_rate(updated, stripe_api.webhook_secret))
        )
    store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200, help="subscriptions, one event of each type each")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    print(f"Stripe webhook events, {args.users} per cell, {database}, business's record_event in process")
    print("| event | concurrency | events/s | vs subscription.updated, same concurrency |")
    print("|---|---:|---:|---:|")
    base = {c: r for name, c, r in results if name == "customer.subscription.updated"}
    for name, concurrency, per_s in results:
        ratio = f"{per_s / base[concurrency]:.2f}x" if concurrency in base else ""
        print(f"| {name} | {concurrency} | {per_s:,.0f} | {ratio} |")
    processed = [r for n, _, r in results if "signature" not in n]
    print(f"median processed events/s: {statistics.median(processed):,.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
