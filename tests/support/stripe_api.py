"""A local HTTP server speaking the subset of Stripe's API that billing uses, for the real `stripe`
SDK to call (StripeClient(base_addresses={"api": base_url})), and Stripe's side of webhooks.

Implements, form-encoded like Stripe (`a[b][0][c]=v`), with `Authorization: Bearer <secret key>`
(a wrong key gets Stripe's 401) and Idempotency-Key replay (the same key and path: the same answer):

- POST /v1/customers, GET /v1/customers/{id}
- POST /v1/checkout/sessions (mode=subscription, a known price), GET /v1/checkout/sessions/{id},
  GET /v1/checkout/sessions (customer, status, limit: newest first), POST
  /v1/checkout/sessions/{id}/expire (only an open one; an expired or complete one cannot be paid)
- POST /v1/billing_portal/sessions
- GET /v1/subscriptions/{id}, POST /v1/subscriptions/{id} (cancel_at_period_end; items[0][id] and
  items[0][price] with proration_behavior: a price change, prorated into an invoice),
  DELETE /v1/subscriptions/{id} (cancelled at once; again: Stripe's error)
- POST /v1/refunds (charge, amount: at most what is left, reason), GET /v1/charges/{id},
  GET /v1/invoices/{id}

Helpers stand for what Stripe does on its own: pay_invoice (a renewal paid: invoice + charge,
invoice.paid) and fail_invoice (a renewal declined: past_due, invoice.payment_failed).

The hosted pages stand in for Stripe's: GET /checkout/{id} shows a page with a Pay button, whose
POST completes the session (complete_checkout: an active subscription) and, when a webhook URL is
set, delivers the events Stripe would, signed as Stripe signs them (sign_payload)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import httpx

from tests.support.stand_in import HttpStandIn

SECRET_KEY = "sk_test_" + "a" * 24
WEBHOOK_SECRET = "whsec_" + "b" * 32
PRICE_MONTHLY = "price_pro_monthly"
PRICE_YEARLY = "price_pro_yearly"
PRICES = {
    PRICE_MONTHLY: {"interval": "month", "unit_amount": 1900, "currency": "usd"},
    PRICE_YEARLY: {"interval": "year", "unit_amount": 19000, "currency": "usd"},
}
PERIOD_S = {"month": 30 * 86400, "year": 365 * 86400}
_INDEX = re.compile(r"\[([^\]]*)\]")


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) as nested dicts; lists are dicts keyed "0", "1"..."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        parts = [head, *_INDEX.findall(key[len(head) :])]
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def sign_payload(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header of `payload`: t=<unix>,v1=<HMAC-SHA256 of "<t>.<payload>">."""
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class StripeApi(HttpStandIn):
    thread_name = "stripe-api"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, secret_key: str = SECRET_KEY) -> None:
        super().__init__(host, port)
        self.secret_key = secret_key
        self.webhook_url = ""  # where completed checkouts deliver their events; empty: none
        self.webhook_secret = WEBHOOK_SECRET
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.prorations: list[dict[str, Any]] = []  # (subscription, behavior, amount) of price changes
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self._idempotent: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.lock = threading.RLock()

    def request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _StripeHandler

    def env(self) -> dict[str, str]:
        return {
            "STRIPE_SECRET_KEY": self.secret_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
            "STRIPE_PRICE_PRO_MONTHLY": PRICE_MONTHLY,
            "STRIPE_PRICE_PRO_YEARLY": PRICE_YEARLY,
            "STRIPE_API_BASE_URL": self.base_url,
        }

    # ---- Stripe's objects ----

    def subscription(
        self, customer: str, price_id: str, user_id: str, status: str = "active"
    ) -> dict[str, Any]:
        now = int(time.time())
        price = PRICES[price_id]
        subscription = {
            "id": _id("sub"),
            "object": "subscription",
            "customer": customer,
            "status": status,
            "cancel_at_period_end": False,
            "created": now,
            "current_period_start": now,
            "current_period_end": now + PERIOD_S[price["interval"]],
            "metadata": {"user_id": user_id},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": _id("si"),
                        "object": "subscription_item",
                        "price": {
                            "id": price_id,
                            "object": "price",
                            "recurring": {"interval": price["interval"]},
                            "unit_amount": price["unit_amount"],
                            "currency": price["currency"],
                        },
                        "quantity": 1,
                    }
                ],
            },
        }
        with self.lock:
            self.subscriptions[subscription["id"]] = subscription
        return subscription

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """What paying on the hosted page does: the session completes with an active subscription;
        the events Stripe sends are delivered to webhook_url when set."""
        with self.lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}: it cannot be paid")
            price_id = session["line_items"]["0"]["price"]
            subscription = self.subscription(session["customer"], price_id, session["client_reference_id"])
            session.update(status="complete", payment_status="paid", subscription=subscription["id"])
        invoice, _ = self.invoice_for(subscription, paid=True)
        if self.webhook_url:
            self.deliver("checkout.session.completed", session)
            self.deliver("customer.subscription.created", subscription)
            self.deliver("invoice.paid", invoice)
        return subscription

    def invoice_for(
        self, subscription: dict[str, Any], paid: bool, amount: int | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """An invoice for the subscription's price (or `amount`) and its charge, paid or declined."""
        price = subscription["items"]["data"][0]["price"]
        due = price["unit_amount"] if amount is None else amount
        now = int(time.time())
        invoice_id, charge_id = _id("in"), _id("ch")
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": due,
            "amount_refunded": 0,
            "currency": price["currency"],
            "customer": subscription["customer"],
            "invoice": invoice_id,
            "created": now,
            "paid": paid,
            "refunded": False,
            "status": "succeeded" if paid else "failed",
            "refunds": {"object": "list", "data": []},
        }
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": subscription["customer"],
            "subscription": subscription["id"],
            "status": "paid" if paid else "open",
            "amount_due": due,
            "amount_paid": due if paid else 0,
            "currency": price["currency"],
            "created": now,
            "charge": charge_id,
            "hosted_invoice_url": f"{self.base_url}/invoices/{invoice_id}",
        }
        with self.lock:
            self.invoices[invoice_id] = invoice
            self.charges[charge_id] = charge
        return invoice, charge

    def pay_invoice(self, subscription_id: str) -> dict[str, Any]:
        """A renewal paid: the subscription is active again; invoice.paid is delivered."""
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = "active"
        invoice, _ = self.invoice_for(subscription, paid=True)
        if self.webhook_url:
            self.deliver("invoice.paid", invoice)
        return invoice

    def fail_invoice(self, subscription_id: str, created: int | None = None) -> dict[str, Any]:
        """A renewal declined: the subscription is past_due; invoice.payment_failed is delivered."""
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = "past_due"
        invoice, _ = self.invoice_for(subscription, paid=False)
        if self.webhook_url:
            self.deliver("invoice.payment_failed", invoice, created)
        return invoice

    def event(self, event_type: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
        return {
            "id": _id("evt"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()) if created is None else created,
            "type": event_type,
            "livemode": False,
            "data": {"object": obj},
        }

    def deliver(self, event_type: str, obj: dict[str, Any], created: int | None = None) -> httpx.Response:
        payload = json.dumps(self.event(event_type, obj, created)).encode()
        return httpx.post(
            self.webhook_url,
            content=payload,
            headers={
                "Stripe-Signature": sign_payload(payload, self.webhook_secret),
                "content-type": "application/json",
            },
        )


class _StripeHandler(BaseHTTPRequestHandler):
    owner: StripeApi

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/checkout/"):
            self._checkout_page(path.removeprefix("/checkout/"))
            return
        if path.startswith("/portal/"):
            self._html(200, "<!doctype html><title>Billing portal</title><h1>Billing portal (test)</h1>")
            return
        if not self._authorised():
            return
        self.owner.requests.append(("GET", path))
        if path == "/v1/checkout/sessions":
            self._json(200, self._list_sessions(parse_qs(self.path.partition("?")[2])))
            return
        for prefix, table in (
            ("/v1/customers/", self.owner.customers),
            ("/v1/checkout/sessions/", self.owner.sessions),
            ("/v1/subscriptions/", self.owner.subscriptions),
            ("/v1/invoices/", self.owner.invoices),
            ("/v1/charges/", self.owner.charges),
            ("/v1/refunds/", self.owner.refunds),
        ):
            if path.startswith(prefix):
                found = table.get(path.removeprefix(prefix))
                if found is None:
                    self._error(404, "resource_missing", f"No such object: '{path.removeprefix(prefix)}'")
                else:
                    self._json(200, found)
                return
        self._error(404, "resource_missing", f"Unrecognized request URL (GET: {path})")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        form = decode_form(self.rfile.read(length).decode("utf-8"))
        if path.startswith("/checkout/") and path.endswith("/pay"):
            session_id = path.removeprefix("/checkout/").removesuffix("/pay")
            if session_id not in self.owner.sessions:
                self._html(404, "no such session")
                return
            if self.owner.sessions[session_id]["status"] != "open":
                self._html(409, "this checkout session is no longer active")
                return
            self.owner.complete_checkout(session_id)
            self.send_response(303)
            self.send_header(
                "Location",
                self.owner.sessions[session_id]["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id),
            )
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self._authorised():
            return
        self.owner.requests.append(("POST", path))
        key = (self.headers.get("Idempotency-Key") or "", path)
        with self.owner.lock:
            if key[0] and key in self.owner._idempotent:
                self._json(*self.owner._idempotent[key])
                return
            status, body = self._post(path, form)
            if key[0] and status < 500:
                self.owner._idempotent[key] = (status, body)
        self._json(status, body)

    def _post(self, path: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        owner = self.owner
        if path == "/v1/customers":
            customer = {
                "id": _id("cus"),
                "object": "customer",
                "email": form.get("email", ""),
                "metadata": form.get("metadata", {}),
                "created": int(time.time()),
            }
            owner.customers[customer["id"]] = customer
            return 200, customer
        if path == "/v1/checkout/sessions":
            return self._new_session(form)
        if path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
            return self._expire_session(path.removeprefix("/v1/checkout/sessions/").removesuffix("/expire"))
        if path == "/v1/billing_portal/sessions":
            if form.get("customer") not in owner.customers:
                return _error(
                    400, "resource_missing", f"No such customer: '{form.get('customer')}'", "customer"
                )
            portal = {
                "id": _id("bps"),
                "object": "billing_portal.session",
                "customer": form["customer"],
                "return_url": form.get("return_url", ""),
            }
            portal["url"] = f"{owner.base_url}/portal/{portal['id']}"
            owner.portal_sessions[portal["id"]] = portal
            return 200, portal
        if path.startswith("/v1/subscriptions/"):
            return self._update_subscription(path.removeprefix("/v1/subscriptions/"), form)
        if path == "/v1/refunds":
            return self._refund(form)
        return _error(404, "resource_missing", f"Unrecognized request URL (POST: {path})")

    def _new_session(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        owner = self.owner
        if form.get("mode") != "subscription":
            return _error(400, "parameter_invalid", "mode must be subscription here", "mode")
        if form.get("customer") not in owner.customers:
            return _error(400, "resource_missing", f"No such customer: '{form.get('customer')}'", "customer")
        price = ((form.get("line_items") or {}).get("0") or {}).get("price")
        if price not in PRICES:
            return _error(400, "resource_missing", f"No such price: '{price}'", "line_items[0][price]")
        for field in ("success_url", "cancel_url"):
            if not form.get(field):
                return _error(400, "parameter_missing", f"Missing required param: {field}.", field)
        session = {
            "id": _id("cs_test"),
            "object": "checkout.session",
            "status": "open",
            "mode": "subscription",
            "payment_status": "unpaid",
            "subscription": None,
            "created": int(time.time()),
            **form,
        }
        session["url"] = f"{owner.base_url}/checkout/{session['id']}"
        owner.sessions[session["id"]] = session
        return 200, session

    def _list_sessions(self, query: dict[str, list[str]]) -> dict[str, Any]:
        customer, status = query.get("customer", [""])[0], query.get("status", [""])[0]
        limit = int(query.get("limit", ["10"])[0])
        with self.owner.lock:
            newest_first = list(reversed(self.owner.sessions.values()))
        matching = [
            s
            for s in newest_first
            if (not customer or s.get("customer") == customer) and (not status or s["status"] == status)
        ]
        return {
            "object": "list",
            "url": "/v1/checkout/sessions",
            "has_more": len(matching) > limit,
            "data": matching[:limit],
        }

    def _expire_session(self, session_id: str) -> tuple[int, dict[str, Any]]:
        session = self.owner.sessions.get(session_id)
        if session is None:
            return _error(404, "resource_missing", f"No such checkout.session: '{session_id}'")
        if session["status"] != "open":
            return _error(
                400,
                "",
                'Only Checkout Sessions with a status in ["open"] can be expired. '
                f'This Checkout Session has a status of "{session["status"]}".',
            )
        session["status"] = "expired"
        return 200, session

    def do_DELETE(self) -> None:
        path = self.path.split("?", 1)[0]
        if not self._authorised():
            return
        self.owner.requests.append(("DELETE", path))
        with self.owner.lock:
            subscription = self.owner.subscriptions.get(path.removeprefix("/v1/subscriptions/"))
            if not path.startswith("/v1/subscriptions/") or subscription is None:
                self._error(404, "resource_missing", f"No such subscription: '{path}'")
                return
            if subscription["status"] == "canceled":
                self._error(400, "", "This subscription is already canceled.")
                return
            now = int(time.time())
            subscription.update(status="canceled", canceled_at=now, ended_at=now)
        self._json(200, subscription)

    def _update_subscription(self, subscription_id: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        subscription = self.owner.subscriptions.get(subscription_id)
        if subscription is None:
            return _error(404, "resource_missing", f"No such subscription: '{subscription_id}'")
        if "cancel_at_period_end" in form:
            subscription["cancel_at_period_end"] = form["cancel_at_period_end"] == "true"
        change = (form.get("items") or {}).get("0") or {}
        price = change.get("price")
        if price:
            if price not in PRICES:
                return _error(400, "resource_missing", f"No such price: '{price}'", "items[0][price]")
            item = subscription["items"]["data"][0]
            if change.get("id") != item["id"]:  # without it Stripe would add a second item
                return _error(400, "parameter_invalid", "items[0][id] must name the item", "items[0][id]")
            behavior = form.get("proration_behavior", "create_prorations")
            if behavior not in ("create_prorations", "always_invoice", "none"):
                return _error(400, "parameter_invalid", "Invalid proration_behavior", "proration_behavior")
            self._prorate(subscription, item["price"], PRICES[price], behavior)
            item["price"] = {
                "id": price,
                "object": "price",
                "recurring": {"interval": PRICES[price]["interval"]},
                "unit_amount": PRICES[price]["unit_amount"],
                "currency": PRICES[price]["currency"],
            }
        return 200, subscription

    def _prorate(
        self, subscription: dict[str, Any], old: dict[str, Any], new: dict[str, Any], behavior: str
    ) -> None:
        """The unused part of the old price credited, the new price charged from now; a new period
        starts when the interval changes (as Stripe does)."""
        now = int(time.time())
        start, end = subscription["current_period_start"], subscription["current_period_end"]
        unused = old["unit_amount"] * max(end - now, 0) // max(end - start, 1)
        amount = max(new["unit_amount"] - unused, 0)
        self.owner.prorations.append(
            {"subscription": subscription["id"], "behavior": behavior, "amount": amount, "credit": unused}
        )
        subscription["current_period_start"] = now
        subscription["current_period_end"] = now + PERIOD_S[new["interval"]]

    def _refund(self, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        charge = self.owner.charges.get(form.get("charge", ""))
        if charge is None:
            return _error(400, "resource_missing", f"No such charge: '{form.get('charge')}'", "charge")
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(form.get("amount") or left)
        if amount <= 0 or amount > left:
            return _error(
                400,
                "amount_too_large",
                f"Refund amount ({amount}) is greater than unrefunded amount ({left})",
                "amount",
            )
        if form.get("reason", "") not in ("", "duplicate", "fraudulent", "requested_by_customer"):
            return _error(400, "parameter_invalid", "Invalid reason", "reason")
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "created": int(time.time()),
            "reason": form.get("reason") or None,
            "status": "succeeded",
        }
        self.owner.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        return 200, refund

    def _checkout_page(self, session_id: str) -> None:
        session = self.owner.sessions.get(session_id)
        if session is None:
            self._html(404, "<!doctype html><title>Not found</title>no such checkout session")
            return
        if session["status"] != "open":
            self._html(
                200, "<!doctype html><title>Checkout (test)</title>this checkout session is no longer active"
            )
            return
        price = PRICES[session["line_items"]["0"]["price"]]
        self._html(
            200,
            "<!doctype html><title>Checkout (test)</title><h1>Checkout (test)</h1>"
            f'<p data-testid="amount">{price["unit_amount"] / 100:.2f} {price["currency"]}'
            f" / {price['interval']}</p>"
            f'<form method="post" action="/checkout/{session_id}/pay"><button>Pay</button></form>'
            f'<a href="{session["cancel_url"]}">Cancel</a>',
        )

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer ") and secrets.compare_digest(header[7:], self.owner.secret_key):
            return True
        self._json(*_error(401, "", "Invalid API Key provided"))
        return False

    def _error(self, status: int, code: str, message: str) -> None:
        self._json(*_error(status, code, message))

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", _id("req"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error(status: int, code: str, message: str, param: str = "") -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return status, {"error": error}


def main() -> None:
    """`python -m tests.support.stripe_api --port N --webhook-url URL`: the stand-in for a
    browser-test stack (web/e2e/stack.sh); serves until terminated."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-url", default="")
    args = parser.parse_args()
    api = StripeApi(port=args.port)
    api.webhook_url = args.webhook_url
    api.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    api.stop()


if __name__ == "__main__":
    main()
