"""The prediction stream through Envoy: the seed's WS /ws/{symbol} (gateway bridge) and
PredictionService.StreamPredictions over gRPC-Web, both fed by the ML engine's replay feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ENVOY_PORT, bearer
from tests.e2e import grpc_web
from tools.supervisor import Stack
from trading.ml.v1 import prediction_service_pb2 as ps_pb

WS = f"ws://127.0.0.1:{ENVOY_PORT}"
EDGE = f"http://127.0.0.1:{ENVOY_PORT}"
STREAM_PATH = "/trading.ml.v1.PredictionService/StreamPredictions"
MESSAGES = 4
# The replay feed publishes an hourly bar every few seconds; generous, never a timing assertion.
WAIT_S = 90.0


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def ws_messages(url: str, count: int, **kwargs: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with connect(url, **kwargs) as socket:
        while len(messages) < count:
            messages.append(json.loads(await asyncio.wait_for(socket.recv(), WAIT_S)))
    return messages


async def ws_close(url: str, **kwargs: Any) -> tuple[int, str, list[str]]:
    """The close code and reason of a socket the server ends, and anything sent before."""
    received: list[str] = []
    async with connect(url, **kwargs) as socket:
        try:
            while True:
                received.append(str(await asyncio.wait_for(socket.recv(), WAIT_S)))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason, received
    raise AssertionError("unreachable")


def assert_in_order(messages: list[dict[str, Any]]) -> None:
    sequences = [int(m["sequence"]) for m in messages]
    bars = [parse_time(m["barTime"]) for m in messages]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences), sequences
    assert bars == sorted(bars) and len(set(bars)) == len(bars), bars


def test_websocket_streams_predictions_in_order(stack: Stack, token: str) -> None:
    messages = asyncio.run(ws_messages(f"{WS}/ws/EURUSD", MESSAGES, additional_headers=bearer(token)))
    assert len(messages) == MESSAGES
    assert_in_order(messages)
    first = messages[0]
    assert first["symbol"] == "EURUSD" and first["timeframe"] == "1h"
    assert first["close"] > 0 and first["publishedAt"]
    assert first["prediction"]["predictedHigh"] >= first["prediction"]["predictedLow"] > 0
    assert first["signal"]["action"]


def test_websocket_takes_the_token_as_a_query_parameter(stack: Stack, token: str) -> None:
    # What a browser does: it cannot set an Authorization header on a WebSocket.
    messages = asyncio.run(ws_messages(f"{WS}/ws/EURUSD?timeframe=1h&access_token={token}", 2))
    assert_in_order(messages)


async def two_sockets(url: str, count: int) -> tuple[list[str | None], list[list[dict[str, Any]]]]:
    """The compression each socket negotiated (its client offers permessage-deflate), and the
    first `count` messages of each."""
    async with connect(url) as first, connect(url) as second:
        sockets = (first, second)
        extensions = [s.response.headers.get("Sec-WebSocket-Extensions") for s in sockets if s.response]
        received = [
            [json.loads(await asyncio.wait_for(s.recv(), WAIT_S)) for _ in range(count)] for s in sockets
        ]
    return extensions, received


def test_websockets_of_one_stream_get_the_same_bars_uncompressed(stack: Stack, token: str) -> None:
    """The bridge's shared call: both sockets see the same bars, the same JSON; and no per-socket
    compression (each socket's deflate context compressed the same JSON again)."""
    extensions, (first, second) = asyncio.run(two_sockets(f"{WS}/ws/EURUSD?access_token={token}", 3))
    assert extensions == [None, None]
    by_sequence = {m["sequence"]: m for m in first}
    common = [m for m in second if m["sequence"] in by_sequence]
    assert common and all(m == by_sequence[m["sequence"]] for m in common)
    assert_in_order(first)
    assert_in_order(second)


def test_websocket_without_a_token_is_refused_with_1008(stack: Stack) -> None:
    code, reason, received = asyncio.run(ws_close(f"{WS}/ws/EURUSD"))
    assert (code, received) == (1008, [])
    assert "access token" in reason


def test_websocket_with_a_forged_token_is_refused_with_1008(stack: Stack, token: str) -> None:
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    code, _, received = asyncio.run(ws_close(f"{WS}/ws/EURUSD?access_token={forged}"))
    assert (code, received) == (1008, [])


def test_websocket_unknown_symbol_closes_with_4404(stack: Stack, token: str) -> None:
    code, reason, received = asyncio.run(ws_close(f"{WS}/ws/NOPE", additional_headers=bearer(token)))
    assert (code, received) == (4404, [])
    assert "NOPE" in reason


def grpc_web_stream(
    request: ps_pb.StreamPredictionsRequest, token: str, count: int
) -> Iterator[ps_pb.StreamPredictionsResponse]:
    """Reads gRPC-Web frames as they arrive (what a browser's fetch stream sees) and stops after
    `count` messages; fails on a trailer with a non-zero grpc-status."""
    seen = 0
    for frame in grpc_web.stream(EDGE + STREAM_PATH, request, bearer(token), WAIT_S):
        yield ps_pb.StreamPredictionsResponse.FromString(frame)
        seen += 1
        if seen == count:
            return
    raise AssertionError(f"stream ended after {seen} of {count} messages")


def test_grpc_web_stream_delivers_several_bars_in_order(stack: Stack, token: str) -> None:
    request = ps_pb.StreamPredictionsRequest(symbol="EURUSD", timeframe="1h")
    messages = list(grpc_web_stream(request, token, MESSAGES))
    assert len(messages) == MESSAGES
    sequences = [m.sequence for m in messages]
    bars = [m.bar_time.ToSeconds() for m in messages]
    assert sequences == sorted(set(sequences)), sequences
    assert bars == sorted(set(bars)), bars
    assert all(m.symbol == "EURUSD" and m.published_at.seconds > 0 for m in messages)
