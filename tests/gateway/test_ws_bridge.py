"""WS /ws/{symbol}: the gateway's bridge to PredictionService.StreamPredictions, one shared call
per (symbol, timeframe).

The real gateway app is served by uvicorn and reached with a real WebSocket client; the ML
engine is a small gRPC server playing PredictionService, so each outcome of the call (messages,
each error status, a client leaving, a service token expiring) can be produced at will. The
whole path through Envoy to the real ML engine is tests/e2e/test_ml_stream_edge.py; the Envoy
route to it, tests/envoy/test_render.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
import pytest
import uvicorn
from google.protobuf.timestamp_pb2 import Timestamp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway import shared_streams, ws_bridge
from gateway.app import create_app
from gateway.config import SERVICE_SUBJECT, GatewaySettings
from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import claims
from tests.gateway.conftest import MakeSettings
from trading.ml.v1 import prediction_pb2, prediction_service_pb2, prediction_service_pb2_grpc

MESSAGES = 3
FIRST_BAR = 1_500_000_000
# TICK's bars: one every TICK_S, each call ending as expired after TICK_CALL_S (a service token's
# life, shortened), the bridge renewing calls every RENEW_S.
TICK_S = 0.05
TICK_CALL_S = 1.0
RENEW_S = 0.5
# Symbols that make the fake engine answer with that status.
ERRORS = {
    "NOPE": (grpc.StatusCode.NOT_FOUND, "unknown symbol NOPE"),
    "BADTF": (grpc.StatusCode.INVALID_ARGUMENT, "timeframe: 7m is not one of 5m, 15m, 1h"),
    "THIN": (grpc.StatusCode.FAILED_PRECONDITION, "needs 92 bars of 5m: import them with make import-bars"),
    "SECRET": (grpc.StatusCode.PERMISSION_DENIED, "requires role user"),
    "DOWN": (grpc.StatusCode.UNAVAILABLE, "model intraday_gru is not loaded"),
    "BOOM": (grpc.StatusCode.INTERNAL, "something broke"),
}


def bar_message(symbol: str, timeframe: str, n: int) -> prediction_service_pb2.StreamPredictionsResponse:
    bar = Timestamp(seconds=FIRST_BAR + 3600 * n)
    return prediction_service_pb2.StreamPredictionsResponse(
        symbol=symbol,
        timeframe=timeframe,
        sequence=n + 1,
        bar_time=bar,
        close=1.1 + n / 1000,
        published_at=Timestamp(seconds=FIRST_BAR + 3600 * n + 1),
        prediction=prediction_pb2.HorizonPrediction(horizon="intraday"),
    )


@dataclass
class FakeEngine(prediction_service_pb2_grpc.PredictionServiceServicer):
    calls: list[tuple[prediction_service_pb2.StreamPredictionsRequest, dict[str, str]]] = field(
        default_factory=list
    )
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    # GATED waits for this before sending its bars.
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = field(default_factory=time.monotonic)

    async def StreamPredictions(
        self,
        request: prediction_service_pb2.StreamPredictionsRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[prediction_service_pb2.StreamPredictionsResponse]:
        self.calls.append((request, {k: str(v) for k, v in context.invocation_metadata() or ()}))
        if request.symbol in ERRORS:
            code, message = ERRORS[request.symbol]
            await context.abort(code, message)
        if request.symbol == "TICK":
            async for message in self._ticks(request, context):
                yield message
            return
        if request.symbol == "GATED":
            await self.release.wait()
        for n in range(MESSAGES):
            yield bar_message(request.symbol, request.timeframe, n)
        if request.symbol in ("FOREVER", "GATED"):
            try:
                await asyncio.Event().wait()  # until the bridge cancels the call
            except asyncio.CancelledError:
                self.cancelled.set()
                raise

    async def _ticks(
        self, request: prediction_service_pb2.StreamPredictionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[prediction_service_pb2.StreamPredictionsResponse]:
        """The engine's one producer as each call sees it: bar n at `started + n * TICK_S`, the same
        bytes on every call; the call ends as the engine ends one whose token expired."""
        ends = time.monotonic() + TICK_CALL_S
        n = int((time.monotonic() - self.started) / TICK_S) + 1
        while (due := self.started + n * TICK_S) < ends:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            yield bar_message("TICK", request.timeframe, n)
            n += 1
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "access token expired; the stream ends, reconnect with a fresh token",
        )


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
    streams: ws_bridge.StreamBridge  # the app's own

    def token(self, **overrides: Any) -> str:
        """A pro user's token (the stream is a pro feature) unless `overrides` say otherwise."""
        return self.keys.sign(claims(**{"plan": "pro", **overrides}))


@pytest.fixture
def bridge_settings() -> dict[str, Any]:
    """Settings of the bridge's gateway beyond the engine's address (a test overrides it)."""
    return {"access_stream_recheck_s": 0.2}


@pytest.fixture
async def bridge(make_settings: MakeSettings, bridge_settings: dict[str, Any]) -> AsyncIterator[Bridge]:
    engine = FakeEngine()  # type: ignore[abstract]  # plays StreamPredictions only
    server = grpc.aio.server()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(engine, server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    settings = make_settings(ml_service_url=f"127.0.0.1:{grpc_port}", **bridge_settings)
    http_port = free_port()
    app = create_app(settings)
    web = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=http_port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(web.serve())
    while not web.started:
        await asyncio.sleep(0.01)
    try:
        yield Bridge(
            f"ws://127.0.0.1:{http_port}", settings.signing_keys(), engine, settings, app.state.stream_bridge
        )
    finally:
        web.should_exit = True
        await serving
        await server.stop(0)


async def received(url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], int, str]:
    """Every message until the server closes (within 30 s), then the close code and reason."""
    messages = []
    async with connect(url, **kwargs) as socket_, asyncio.timeout(30):
        try:
            while True:
                messages.append(json.loads(await socket_.recv()))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return messages, closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


def service_claims(metadata: dict[str, str]) -> dict[str, Any]:
    """The claims of the token a call to the engine carried (signature checked by the engine)."""
    token = metadata["authorization"].removeprefix("Bearer ")
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def until(condition: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def release_gated_once_followed_by(bridge: Bridge, sockets: int) -> None:
    """Lets GATED's bars flow once that many sockets follow it: a socket joins its stream only
    after the handshake, and a stream does not replay bars sent before a socket joined."""
    await until(lambda: bridge.streams.streams.subscribers(("GATED", "1h")) == sockets)
    bridge.engine.release.set()


async def test_streams_each_message_as_rest_shaped_json(bridge: Bridge) -> None:
    messages, code, _ = await received(
        f"{bridge.url}/ws/EURUSD",
        additional_headers={"authorization": f"Bearer {bridge.token()}", "x-request-id": "req-ws-1"},
    )
    assert code == shared_streams.NORMAL
    assert [m["sequence"] for m in messages] == ["1", "2", "3"]  # int64: a JSON string, as in REST
    assert messages[0]["barTime"] == "2017-07-14T02:40:00Z"
    assert messages[0]["timeframe"] == "1h"  # the seed's default
    assert messages[0]["publishedAt"] == "2017-07-14T02:40:01Z"
    # Every primitive field is present, as Envoy's transcoder prints them for REST.
    assert messages[0]["prediction"]["tpProbability"] == 0
    request, metadata = bridge.engine.calls[0]
    assert (request.symbol, request.timeframe) == ("EURUSD", "1h")
    # The call is the gateway's, shared by the sockets: its own short-lived service token.
    claims_ = service_claims(metadata)
    assert (claims_["sub"], claims_["roles"]) == (SERVICE_SUBJECT, ["service"])
    assert claims_["exp"] - claims_["iat"] <= 60


async def test_the_token_may_come_as_a_query_parameter(bridge: Bridge) -> None:
    messages, code, _ = await received(f"{bridge.url}/ws/EURUSD?timeframe=15m&access_token={bridge.token()}")
    assert code == shared_streams.NORMAL and len(messages) == MESSAGES
    request, _ = bridge.engine.calls[0]
    assert request.timeframe == "15m"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "access token is required"),
        ("garbage", "malformed"),
        ("expired", "expired"),
        ("wrong_audience", "audience"),
        ("not_bearer", "access token is required"),
        ("free_plan", "requires plan pro"),
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
        "free_plan": {"authorization": f"Bearer {bridge.token(plan='free')}"},
    }[case]
    messages, code, text = await received(f"{bridge.url}/ws/EURUSD", additional_headers=headers)
    assert (messages, code) == ([], shared_streams.POLICY_VIOLATION)
    assert reason in text.lower()
    assert bridge.engine.calls == []


async def test_a_revoked_token_is_refused(bridge: Bridge) -> None:
    # The bridge's own revocation list (Redis when configured, shared with every service).
    await bridge.streams.revocations.revoke_subject("suspended-user")
    token = bridge.token(sub="suspended-user")
    messages, code, reason = await received(f"{bridge.url}/ws/EURUSD?access_token={token}")
    assert (messages, code) == ([], shared_streams.POLICY_VIOLATION) and "revoked" in reason
    assert (await bridge.streams.admit(bridge.token(sub="someone-else"))).subject == "someone-else"


async def test_a_socket_is_closed_when_its_token_is_revoked_while_it_streams(bridge: Bridge) -> None:
    """The engine rechecks an open call's token; the bridge does it for its sockets (every
    ACCESS_STREAM_RECHECK_S, all at once): the revoked one closes, the other keeps streaming."""
    url = f"{bridge.url}/ws/GATED"
    async with (
        connect(f"{url}?access_token={bridge.token(sub='logs-out')}") as leaving,
        connect(f"{url}?access_token={bridge.token(sub='stays')}") as staying,
    ):
        await release_gated_once_followed_by(bridge, sockets=2)
        async with asyncio.timeout(10):
            for socket_ in (leaving, staying):
                await socket_.recv()
        await bridge.streams.revocations.revoke_subject("logs-out")
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await leaving.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            shared_streams.POLICY_VIOLATION,
            ws_bridge.REVOKED,
        )
        await asyncio.sleep(0.5)  # two more checks
        assert bridge.streams.streams.subscribers(("GATED", "1h")) == 1
        assert staying.close_code is None
    assert len(bridge.engine.calls) == 1


@pytest.mark.parametrize("bridge_settings", [{"ml_rate_limit_pro": 2}])
async def test_sockets_count_against_the_users_ml_rate_limit(bridge: Bridge) -> None:
    """A socket is a stream opened: the engine counts those per user and plan, and sees only the
    gateway's shared call, so the bridge counts them (the same counter, through Redis)."""
    token = bridge.token(sub="busy-user")
    for _ in range(2):
        messages, code, _reason = await received(f"{bridge.url}/ws/EURUSD?access_token={token}")
        assert (len(messages), code) == (MESSAGES, shared_streams.NORMAL)
    messages, code, reason = await received(f"{bridge.url}/ws/EURUSD?access_token={token}")
    assert (messages, code) == ([], ws_bridge.RATE_LIMITED)
    assert reason.startswith("rate limit of plan pro: 2 ML requests per 60 s")
    messages, code, _reason = await received(
        f"{bridge.url}/ws/EURUSD?access_token={bridge.token(sub='other')}"
    )
    assert code == shared_streams.NORMAL  # another user's count


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


async def test_sockets_of_one_stream_share_one_call_and_each_gets_every_bar(bridge: Bridge) -> None:
    url = f"{bridge.url}/ws/GATED?access_token="
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(connect(url + bridge.token(sub=f"u-{n}"))) for n in range(3)
        ]
        sockets.append(await stack.enter_async_context(connect(f"{url}{bridge.token()}&timeframe=5m")))
        await until(lambda: bridge.streams.streams.subscribers(("GATED", "5m")) == 1)
        await release_gated_once_followed_by(bridge, sockets=3)
        got = [[json.loads(await socket_.recv()) for _ in range(MESSAGES)] for socket_ in sockets]
    assert got[0] == got[1] == got[2] and [m["sequence"] for m in got[0]] == ["1", "2", "3"]
    assert [m["timeframe"] for m in got[3]] == ["5m"] * MESSAGES
    assert sorted(request.timeframe for request, _ in bridge.engine.calls) == ["1h", "5m"]
    await asyncio.wait_for(bridge.engine.cancelled.wait(), timeout=10)  # the last sockets left


async def test_the_call_ends_when_the_last_socket_leaves(bridge: Bridge) -> None:
    url = f"{bridge.url}/ws/GATED?access_token="
    async with connect(url + bridge.token()) as staying:
        async with connect(url + bridge.token(sub="user-2")) as leaving:
            await release_gated_once_followed_by(bridge, sockets=2)
            await asyncio.wait_for(leaving.recv(), timeout=10)
        await until(lambda: bridge.streams.streams.subscribers(("GATED", "1h")) == 1)
        await asyncio.sleep(0.2)
        assert not bridge.engine.cancelled.is_set()  # one socket still follows it
        await asyncio.wait_for(staying.recv(), timeout=10)
    await asyncio.wait_for(bridge.engine.cancelled.wait(), timeout=10)
    assert bridge.streams.streams.subscribers(("GATED", "1h")) == 0


async def test_calls_are_renewed_before_their_service_token_expires_without_a_gap_or_a_repeat(
    bridge: Bridge,
) -> None:
    bridge.streams.streams.renew_after_s = RENEW_S
    sequences = []
    async with connect(f"{bridge.url}/ws/TICK?access_token={bridge.token()}") as socket_:
        async with asyncio.timeout(20):
            while len(sequences) < 3 * TICK_CALL_S / TICK_S:  # across three calls' lifetimes
                sequences.append(int(json.loads(await socket_.recv())["sequence"]))
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert len(bridge.engine.calls) >= 3


async def test_the_socket_closes_when_the_token_expires(bridge: Bridge) -> None:
    now = int(time.time())
    token = bridge.token(iat=now, nbf=now, exp=now + 2)
    messages, code, reason = await asyncio.wait_for(
        received(f"{bridge.url}/ws/FOREVER?access_token={token}"), timeout=20
    )
    assert len(messages) == MESSAGES
    assert code == shared_streams.POLICY_VIOLATION and "expired" in reason
    await asyncio.wait_for(bridge.engine.cancelled.wait(), timeout=10)


def test_close_reasons_fit_a_close_frame() -> None:
    reason = ws_bridge.close_reason("é" * 100)
    assert len(reason.encode()) <= ws_bridge.MAX_REASON_BYTES and reason == "é" * 61


def test_unmapped_statuses_are_internal_errors() -> None:
    assert shared_streams.close_code(grpc.StatusCode.DEADLINE_EXCEEDED) == shared_streams.INTERNAL_ERROR
    assert shared_streams.close_code(grpc.StatusCode.UNAUTHENTICATED) == shared_streams.POLICY_VIOLATION


async def test_a_socket_that_falls_behind_keeps_the_newest_texts() -> None:
    outlet = shared_streams.Outlet(("EURUSD", "1h"), size=4)
    for n in range(6):
        outlet.offer(f"bar {n}")
    outlet.end(shared_streams.NORMAL, "stream ended")
    outlet.offer("after the end")
    assert [await outlet.next() for _ in range(5)] == ["bar 2", "bar 3", "bar 4", "bar 5", None]
    assert (outlet.dropped, outlet.ending) == (2, (shared_streams.NORMAL, "stream ended"))
    revoked = shared_streams.Outlet(("EURUSD", "1h"))
    revoked.offer("bar 0")
    revoked.end(shared_streams.POLICY_VIOLATION, ws_bridge.REVOKED, drop_pending=True)
    revoked.end(shared_streams.NORMAL, "later")  # the first ending stands
    assert await revoked.next() is None and revoked.ending == (
        shared_streams.POLICY_VIOLATION,
        ws_bridge.REVOKED,
    )
