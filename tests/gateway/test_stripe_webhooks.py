"""POST /api/billing/webhooks/stripe when business does not record the event: a fixed answer per
status for Stripe (which only needs the status to deliver again), gRPC's own text in the log only:
it names business's addresses."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from concurrent import futures

import grpc
import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.stripe_webhooks import PATH
from tests.gateway.conftest import MakeSettings
from tests.support.stripe_api import WEBHOOK_SECRET, sign_payload

RECORD = "/trading.billing.v1.StripeEventService/RecordStripeEvent"
EVENT = json.dumps(
    {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}}
).encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Refusing = Callable[[grpc.StatusCode, str], int]


@pytest.fixture
def refusing_business() -> Iterator[Refusing]:
    """Starts a stand-in for business whose RecordStripeEvent fails with the given status and
    text; returns its port."""
    servers: list[grpc.Server] = []

    def start(code: grpc.StatusCode, details: str) -> int:
        def record(request: bytes, context: grpc.ServicerContext) -> bytes:
            context.abort(code, details)
            raise AssertionError("abort raises")

        service, method = RECORD.strip("/").split("/")
        server = grpc.server(futures.ThreadPoolExecutor(2))
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    service, {method: grpc.unary_unary_rpc_method_handler(record)}
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop(None)


def _deliver(make_settings: MakeSettings, business_port: int) -> tuple[int, dict[str, str]]:
    settings = make_settings(stripe_webhook_secret=WEBHOOK_SECRET, business_grpc_port=business_port)
    with TestClient(create_app(settings)) as client:
        res = client.post(
            PATH,
            content=EVENT,
            headers={"stripe-signature": sign_payload(EVENT), "content-type": "application/json"},
        )
    body: dict[str, str] = res.json()
    return res.status_code, body


def test_business_unreachable_answers_503_without_its_addresses(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, body = _deliver(make_settings, _free_port())  # nobody listens there
    assert status == 503 and body["error"] == "unavailable"
    assert body["message"] == "the event was not recorded: billing is unavailable"
    # gRPC's text ("failed to connect to all addresses; ... ipv4:127.0.0.1:<port>") is logged only.
    (record,) = [r for r in caplog.records if r.getMessage() == "Stripe event not recorded"]
    assert "127.0.0.1" in getattr(record, "details", "") and getattr(record, "event_id", "") == "evt_1"


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "the event was not recorded: billing cannot read it"),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            503,
            "the event was not processed: billing could not apply it now",
        ),
        (grpc.StatusCode.INTERNAL, 503, "the event was not processed: billing could not apply it now"),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            503,
            "the event was not processed: billing could not apply it now",
        ),
    ],
)
def test_a_refusal_by_business_answers_a_fixed_message(
    make_settings: MakeSettings,
    refusing_business: Refusing,
    code: grpc.StatusCode,
    status: int,
    message: str,
) -> None:
    port = refusing_business(code, "customer cus_9 belongs to no known user (db 10.1.2.3:5432)")
    answered, body = _deliver(make_settings, port)
    assert (answered, body["message"]) == (status, message)
    assert "10.1.2.3" not in json.dumps(body) and "cus_9" not in json.dumps(body)
