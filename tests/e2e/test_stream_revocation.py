"""Open streams end when their session does (issue 13.2): a WebSocket on the gateway's bridge
and a gRPC-Web stream through Envoy, both opened before the user logs out, are closed within
seconds after it (WebSocket 1008, gRPC UNAUTHENTICATED)."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, ENVOY_PORT
from tests.e2e import grpc_web
from tests.e2e.accounts import as_plan, register_verified, tokens_of
from tests.support.smtp_sink import SmtpSink
from trading.ml.v1 import prediction_service_pb2 as ps_pb

STREAM_PATH = "/trading.ml.v1.PredictionService/StreamPredictions"
# Bars arrive every ~2 s on the replay feed and tokens are rechecked every 2 s: generous bounds.
FIRST_MESSAGE_S = 60.0
CLOSED_WITHIN_S = 15.0


def logout(refresh_token: str) -> None:
    reply = httpx.post(f"{EDGE}/api/auth/logout", json={"refreshToken": refresh_token}, timeout=30)
    assert reply.status_code == 200, reply.text


async def websocket_closed_by_logout(access: str, refresh: str) -> tuple[int, float]:
    async with connect(f"ws://127.0.0.1:{ENVOY_PORT}/ws/EURUSD?access_token={access}") as socket:
        json.loads(await asyncio.wait_for(socket.recv(), FIRST_MESSAGE_S))  # streaming
        await asyncio.to_thread(logout, refresh)
        logged_out = time.monotonic()
        try:
            async with asyncio.timeout(CLOSED_WITHIN_S):  # messages keep coming until it closes
                while True:
                    await socket.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, time.monotonic() - logged_out


def test_an_open_websocket_is_closed_when_its_session_logs_out(
    stack: object, smtp_sink: SmtpSink, keys: SigningKeyStore
) -> None:
    tokens = tokens_of(register_verified(smtp_sink))
    access = as_plan(keys, tokens["accessToken"], "pro")  # the stream is pro's
    code, after_s = asyncio.run(websocket_closed_by_logout(access, tokens["refreshToken"]))
    assert code == 1008
    assert after_s < CLOSED_WITHIN_S


def test_an_open_grpc_web_stream_ends_unauthenticated_when_its_session_logs_out(
    stack: object, smtp_sink: SmtpSink, keys: SigningKeyStore
) -> None:
    tokens = tokens_of(register_verified(smtp_sink))
    access = as_plan(keys, tokens["accessToken"], "pro")  # the stream is pro's
    payload = ps_pb.StreamPredictionsRequest(symbol="EURUSD", timeframe="1h").SerializeToString()
    headers = {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        "authorization": f"Bearer {access}",
    }
    messages, trailer, logged_out = 0, "", 0.0
    with httpx.stream(
        "POST",
        EDGE + STREAM_PATH,
        content=struct.pack(">BI", 0, len(payload)) + payload,
        headers=headers,
        timeout=FIRST_MESSAGE_S,
    ) as reply:
        assert reply.status_code == 200
        buffer = b""
        for chunk in reply.iter_bytes():
            frames, buffer = grpc_web.split_frames(buffer + chunk)
            for flags, frame in frames:
                if flags & 0x80:
                    trailer = frame.decode()
                    break
                messages += 1
                if messages == 1:
                    logout(tokens["refreshToken"])
                    logged_out = time.monotonic()
            if trailer or (logged_out and time.monotonic() - logged_out > CLOSED_WITHIN_S):
                break
    assert messages >= 1
    assert "grpc-status:16" in trailer.replace(" ", ""), trailer
    assert time.monotonic() - logged_out < CLOSED_WITHIN_S
