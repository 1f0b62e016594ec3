"""WS /ws/{symbol}: the gateway's bridge to PredictionService.StreamPredictions.

The real gateway app is served by uvicorn and reached with a real WebSocket client; the ML
engine is a small gRPC server playing PredictionService, so each outcome of the call (messages,
each error status, a client leaving) can be produced at will. The whole path through Envoy to
the real ML engine is tests/e2e/test_ml_stream_edge.py; the Envoy route to it, tests/envoy/test_render.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import uvicorn
from google.protobuf.timestamp_pb2 import Timestamp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway import ws_bridge
from gateway.app import create_app
from gateway.config import GatewaySettings
from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import claims
from tests.gateway.conftest import MakeSettings
from trading.ml.v1 import prediction_pb2, prediction_service_pb2, prediction_service_pb2_grpc

MESSAGES = 3
FIRST_BAR = 1_500_000_000
# Symbols that make the fake engine answer with that status.
ERRORS = {
    "NOPE": (grpc.StatusCode.NOT_FOUND, "unknown symbol NOPE"),
    "BADTF": (grpc.StatusCode.INVALID_ARGUMENT, "timeframe: 7m is not one of 5m, 15m, 1h"),
    "THIN": (grpc.StatusCode.FAILED_PRECONDITION, "needs 92 bars of 5m: import them with make import-bars"),
    "SECRET": (grpc.StatusCode.PERMISSION_DENIED, "requires role user"),
    "DOWN": (grpc.StatusCode.UNAVAILABLE, "model intraday_gru is not loaded"),
    "BOOM": (grpc.StatusCode.INTERNAL, "something broke"),
}


@dataclass
class FakeEngine(prediction_service_pb2_grpc.PredictionServiceServicer):
    calls: list[tuple[prediction_service_pb2.StreamPredictionsRequest, dict[str, str]]] = field(
        default_factory=list
    )
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def StreamPredictions(
        self,
        request: prediction_service_pb2.StreamPredictionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[prediction_service_pb2.StreamPredictionsResponse]:
        self.calls.append((request, {k: str(v) for k, v in context.invocation_metadata() or ()}))
        if request.symbol in ERRORS:
            code, message = ERRORS[request.symbol]
            await context.abort(code, message)
        for n in range(MESSAGES):
            bar = Timestamp(seconds=FIRST_BAR + 3600 * n)
            yield prediction_service_pb2.StreamPredictionsResponse(
                symbol=request.symbol,
                timeframe=request.timeframe,
                sequence=n + 1,
                bar_time=bar,
                close=1.1 + n / 1000,
                published_at=Timestamp(seconds=FIRST_BAR + 3600 * n + 1),
                prediction=prediction_pb2.HorizonPrediction(horizon="intraday"),
            )
        if request.symbol == "FOREVER":
            try:
                await asyncio.Event().wait()  # until the bridge cancels the call
            except asyncio.CancelledError:
                self.cancelled.set()
                raise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bridge:
    url: str
    keys: SigningKeyStore
    engine: FakeEngine
    settings: GatewaySettings

    def token(self, **overrides: Any) -> str:
        """A pro user's token (the stream is a pro feature) unless `overrides` say otherwise."""
        return self.keys.sign(claims(**{"plan": "pro", **overrides}))


@pytest.fixture
async def bridge(make_settings: MakeSettings) -> AsyncIterator[Bridge]:
    engine = FakeEngine()  # type: ignore[abstract]  # plays StreamPredictions only
    server = grpc.aio.server()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(engine, server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    settings = make_settings(ml_service_url=f"127.0.0.1:{grpc_port}")
    http_port = free_port()
    web = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=http_port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(web.serve())
    while not web.started:
        await asyncio.sleep(0.01)
    try:
        yield Bridge(f"ws://127.0.0.1:{http_port}", settings.signing_keys(), engine, settings)
    finally:
        web.should_exit = True
        await serving
        await server.stop(0)


async def received(url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], int, str]:
    """Every message until the server closes, then the close code and reason."""
    messages = []
    async with connect(url, **kwargs) as socket_:
        try:
            while True:
                messages.append(json.loads(await socket_.recv()))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return messages, closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


async def test_streams_each_message_as_rest_shaped_json(bridge: Bridge) -> None:
    token = bridge.token()
    messages, code, _ = await received(
        f"{bridge.url}/ws/EURUSD",
        additional_headers={"authorization": f"Bearer {token}", "x-request-id": "req-ws-1"},
    )
    assert code == ws_bridge.NORMAL
    assert [m["sequence"] for m in messages] == ["1", "2", "3"]  # int64: a JSON string, as in REST
    assert messages[0]["barTime"] == "2017-07-14T02:40:00Z"
    assert messages[0]["timeframe"] == "1h"  # the seed's default
    assert messages[0]["publishedAt"] == "2017-07-14T02:40:01Z"
    # Every primitive field is present, as Envoy's transcoder prints them for REST.
    assert messages[0]["prediction"]["tpProbability"] == 0
    request, metadata = bridge.engine.calls[0]
    assert (request.symbol, request.timeframe) == ("EURUSD", "1h")
    assert metadata["authorization"] == f"Bearer {token}"
    assert metadata["x-request-id"] == "req-ws-1"


async def test_the_token_may_come_as_a_query_parameter(bridge: Bridge) -> None:
    token = bridge.token()
    messages, code, _ = await received(f"{bridge.url}/ws/EURUSD?timeframe=15m&access_token={token}")
    assert code == ws_bridge.NORMAL and len(messages) == MESSAGES
    request, metadata = bridge.engine.calls[0]
    assert request.timeframe == "15m"
    assert metadata["authorization"] == f"Bearer {token}"
    assert metadata["x-request-id"]  # one is made up when the client sent none


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "access token is required"),
        ("garbage", "malformed"),
        ("expired", "expired"),
        ("wrong_audience", "audience"),
        ("not_bearer", "access token is required"),
    ],
)
async def test_a_bad_token_is_refused_with_1008_before_any_call(
    bridge: Bridge, case: str, reason: str
) -> None:
    now = int(time.time())
    headers = {
        "missing": {},
        "garbage": {"authorization": "Bearer not-a-jwt"},
        "expired": {"authorization": f"Bearer {bridge.token(iat=now - 1000, nbf=now - 1000, exp=now - 100)}"},
        "wrong_audience": {"authorization": f"Bearer {bridge.token(aud='someone-else')}"},
        "not_bearer": {"authorization": f"Basic {bridge.token()}"},
    }[case]
    messages, code, text = await received(f"{bridge.url}/ws/EURUSD", additional_headers=headers)
    assert (messages, code) == ([], ws_bridge.POLICY_VIOLATION)
    assert reason in text.lower()
    assert bridge.engine.calls == []


async def test_a_revoked_token_is_refused(make_settings: MakeSettings, bridge: Bridge) -> None:
    token = bridge.token(sub="suspended-user")
    # The bridge's own revocation list (Redis when configured, shared with every service).
    app_bridge = ws_bridge.StreamBridge(bridge.settings)
    await app_bridge.revocations.revoke_subject("suspended-user")
    with pytest.raises(ws_bridge.Refused) as refused:
        await app_bridge.admit(token)
    assert refused.value.code == ws_bridge.POLICY_VIOLATION and "revoked" in refused.value.reason
    assert (await app_bridge.admit(bridge.token(sub="someone-else"))).subject == "someone-else"
    await app_bridge.close()


@pytest.mark.parametrize(
    ("symbol", "code"),
    [("NOPE", 4404), ("BADTF", 4400), ("THIN", 4412), ("SECRET", 1008), ("DOWN", 1013), ("BOOM", 1011)],
)
async def test_grpc_errors_close_with_a_mapped_code_and_the_message(
    bridge: Bridge, symbol: str, code: int
) -> None:
    messages, got, reason = await received(
        f"{bridge.url}/ws/{symbol}", additional_headers={"authorization": f"Bearer {bridge.token()}"}
    )
    assert messages == []
    assert (got, reason) == (code, ERRORS[symbol][1])


async def test_a_client_leaving_cancels_the_grpc_call(bridge: Bridge) -> None:
    async with connect(f"{bridge.url}/ws/FOREVER?access_token={bridge.token()}") as socket_:
        for _ in range(MESSAGES):
            await socket_.recv()
    await asyncio.wait_for(bridge.engine.cancelled.wait(), timeout=10)


async def test_the_socket_closes_when_the_token_expires(bridge: Bridge) -> None:
    now = int(time.time())
    token = bridge.token(iat=now, nbf=now, exp=now + 2)
    messages, code, reason = await asyncio.wait_for(
        received(f"{bridge.url}/ws/FOREVER?access_token={token}"), timeout=20
    )
    assert len(messages) == MESSAGES
    assert code == ws_bridge.POLICY_VIOLATION and "expired" in reason
    await asyncio.wait_for(bridge.engine.cancelled.wait(), timeout=10)


def test_close_reasons_fit_a_close_frame() -> None:
    reason = ws_bridge.close_reason("é" * 100)
    assert len(reason.encode()) <= ws_bridge.MAX_REASON_BYTES and reason == "é" * 61


def test_unmapped_statuses_are_internal_errors() -> None:
    assert ws_bridge.close_code(grpc.StatusCode.DEADLINE_EXCEEDED) == ws_bridge.INTERNAL_ERROR
    assert ws_bridge.close_code(grpc.StatusCode.UNAUTHENTICATED) == ws_bridge.POLICY_VIOLATION


async def test_sockets_of_one_stream_get_the_same_json(bridge: Bridge) -> None:
    token = bridge.token()
    url = f"{bridge.url}/ws/EURUSD"
    headers = {"authorization": f"Bearer {token}"}
    (first, code_a, _a), (second, code_b, _b) = await asyncio.gather(
        received(url, additional_headers=headers), received(url, additional_headers=headers)
    )
    assert code_a == code_b == ws_bridge.NORMAL, (_a, _b)
    assert first == second and [m["sequence"] for m in first] == ["1", "2", "3"]


def test_each_distinct_message_is_converted_to_json_once() -> None:
    memo = ws_bridge.JsonMemo(size=2)
    bars = [
        prediction_service_pb2.StreamPredictionsResponse(symbol="EURUSD", timeframe="1h", sequence=n)
        for n in (1, 2, 3)
    ]
    payloads = [bar.SerializeToString() for bar in bars]
    # Another socket's copy of the same bytes: equal, not the same object.
    texts = [memo.text(payloads[0]), memo.text(bytes(bytearray(payloads[0]))), memo.text(payloads[1])]
    assert texts[0] is texts[1] and memo.conversions == 2
    assert texts[0] == ws_bridge.to_json(bars[0]) and texts[2] == ws_bridge.to_json(bars[1])
    memo.text(payloads[2])  # the oldest (sequence 1) leaves the memo
    memo.text(payloads[0])
    assert memo.conversions == 4
