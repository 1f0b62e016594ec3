"""The WebSocket bridge's side toward the ML engine: one StreamPredictions call per (symbol,
timeframe), shared by every socket that follows it, instead of one call per socket.

Why: with a call per socket, 5,000 sockets were 5,000 gRPC calls in the gateway's one event
loop, each receiving, and the engine sending, the same bytes (p99 bar-to-client 2.8 s). Shared,
a bar is received once, turned into JSON once, and put on each socket's queue.

The call is made with the gateway's own service token (service_runtime/service_token.py), which
lives a minute: a call is renewed `renew_s` after it opened, the next one overlapping the old
until the old ends by itself at its token's expiry, so no bar falls between the two. Both calls
carry the same bytes for a bar (the engine serialises a bar once for all its subscribers), and a
payload already delivered is not delivered again.

Each socket has an `Outlet`: its texts not yet sent, bounded (oldest dropped, as the engine's own
subscriptions), so a slow socket never holds the others. When the call ends for good (an error,
or the engine ending the stream), every outlet ends with the close code the bridge sends; the
next socket for that key opens a new call. The last socket leaving cancels the call.

The user behind each socket is checked by the bridge (gateway/ws_bridge.py): token, revocation
(at the start and every few seconds), plan and rate limit, as the engine checks a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.json_format import MessageToJson

from service_runtime.service_token import (
    SERVICE_STREAM_DEADLINE_S,
    SERVICE_TOKEN_TTL_S,
    ServiceChannel,
    stream_token_expired,
)
from trading.ml.v1 import prediction_service_pb2

log = logging.getLogger(__name__)

STREAM_METHOD = "/trading.ml.v1.PredictionService/StreamPredictions"
# Texts waiting per socket at most; past it the oldest is dropped.
OUTLET_SIZE = 64
# A call is renewed this long after it opened: its token lives SERVICE_TOKEN_TTL_S, so the next
# call overlaps it by 20 s, room for the engine to take the new subscription.
RENEW_AFTER_S = SERVICE_TOKEN_TTL_S - 20
# Payloads remembered to drop the overlapping call's copy of a bar already delivered.
DELIVERED_MEMORY = 16
# A call the engine ends as expired sooner than this after it opened is not renewed again at once
# (a clock or key problem would otherwise open calls in a tight loop): the sockets are closed.
SHORTEST_CALL_S = 1.0

# RFC 6455 close codes, and the 4xxx application range mirroring HTTP statuses.
NORMAL = 1000
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
CLOSE_CODES = {
    grpc.StatusCode.NOT_FOUND: 4404,
    grpc.StatusCode.INVALID_ARGUMENT: 4400,
    grpc.StatusCode.FAILED_PRECONDITION: 4412,
    grpc.StatusCode.UNAUTHENTICATED: POLICY_VIOLATION,
    grpc.StatusCode.PERMISSION_DENIED: POLICY_VIOLATION,
    grpc.StatusCode.UNAVAILABLE: TRY_AGAIN_LATER,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 4429,
}

Key = tuple[str, str]  # (symbol, timeframe) as the socket asked for them
Ending = tuple[int, str]  # close code and reason


def close_code(status: grpc.StatusCode) -> int:
    return CLOSE_CODES.get(status, INTERNAL_ERROR)


def to_json(message: prediction_service_pb2.StreamPredictionsResponse) -> str:
    # Envoy's transcoder prints lowerCamelCase names and every primitive field: the same here.
    return MessageToJson(message, indent=None, always_print_fields_with_no_presence=True)


class Outlet:
    """One socket's end of a shared stream: the texts it has not sent yet and, once the stream is
    over for it, why."""

    def __init__(self, key: Key, size: int = OUTLET_SIZE) -> None:
        self.key = key
        self.dropped = 0
        self.ending: Ending | None = None
        self._texts: deque[str] = deque(maxlen=size)
        self._ready = asyncio.Event()

    def offer(self, text: str) -> None:
        if self.ending is not None:
            return
        if len(self._texts) == self._texts.maxlen:
            self.dropped += 1
        self._texts.append(text)
        self._ready.set()

    def end(self, code: int, reason: str, *, drop_pending: bool = False) -> None:
        """No more texts after those pending (none with `drop_pending`); the first ending stands."""
        if self.ending is None:
            self.ending = (code, reason)
        if drop_pending:
            self._texts.clear()
        self._ready.set()

    async def next(self) -> str | None:
        """The next text to send, waiting for one; None once the stream is over for this socket."""
        while not self._texts:
            if self.ending is not None:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._texts.popleft()


OpenCall = Callable[[Key], Any]  # a StreamPredictions call answering each message's bytes


class SharedStream:
    """One key's upstream call, renewed before its token expires, fanned out to its outlets."""

    def __init__(self, key: Key, open_call: OpenCall, renew_after_s: float) -> None:
        self.key = key
        self.open_call = open_call
        self.renew_after_s = renew_after_s
        self.outlets: set[Outlet] = set()
        self._delivered: deque[bytes] = deque(maxlen=DELIVERED_MEMORY)
        self._task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self._task is not None and self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"shared stream {self.key[0]} {self.key[1]}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        code, reason = await self._follow()
        log.info("shared stream ended", extra={"symbol": self.key[0], "close_code": code, "reason": reason})
        for outlet in self.outlets:
            outlet.end(code, reason)

    async def _follow(self) -> Ending:
        """Calls, each opened `renew_after_s` after the one before (or at once when that one's
        token expired first), until one ends the stream for good: that call's ending."""
        pumps: set[asyncio.Task[Ending | None]] = set()
        try:
            while True:
                pump = asyncio.create_task(self._pump(self.open_call(self.key)))
                pumps.add(pump)
                pump.add_done_callback(pumps.discard)
                opened = time.monotonic()
                done, _ = await asyncio.wait({pump}, timeout=self.renew_after_s)
                if pump not in done:
                    continue  # renewal: the older call runs on until its token expires
                ending = pump.result()
                if ending is not None:
                    return ending
                if time.monotonic() - opened < SHORTEST_CALL_S:
                    return TRY_AGAIN_LATER, "the ML engine ended the stream at once as expired"
        finally:
            for older in list(pumps):
                older.cancel()

    async def _pump(self, call: Any) -> Ending | None:
        """Delivers the call's messages; its ending, None when only its token expired."""
        try:
            async for payload in call:
                self._deliver(payload)
        except grpc.aio.AioRpcError as error:
            if stream_token_expired(error):
                return None
            return close_code(error.code()), error.details() or error.code().name
        finally:
            call.cancel()
        return NORMAL, "stream ended"

    def _deliver(self, payload: bytes) -> None:
        if payload in self._delivered:
            return  # the overlapping call's copy
        self._delivered.append(payload)
        text = to_json(prediction_service_pb2.StreamPredictionsResponse.FromString(payload))
        for outlet in self.outlets:
            outlet.offer(text)


class SharedStreams:
    """The shared calls by key: `join` gives a socket its outlet (opening the key's call when none
    runs), `leave` takes it back (cancelling the call when it was the last)."""

    def __init__(self, channel: ServiceChannel, renew_after_s: float = RENEW_AFTER_S) -> None:
        self.channel = channel
        self.renew_after_s = renew_after_s
        self._streams: dict[Key, SharedStream] = {}

    def join(self, key: Key) -> Outlet:
        stream = self._streams.get(key)
        if stream is None or stream.finished:
            stream = SharedStream(key, self._open_call, self.renew_after_s)
            self._streams[key] = stream
            stream.start()
        outlet = Outlet(key)
        stream.outlets.add(outlet)
        return outlet

    async def leave(self, outlet: Outlet) -> None:
        stream = self._streams.get(outlet.key)
        if stream is None or outlet not in stream.outlets:
            return
        stream.outlets.discard(outlet)
        if not stream.outlets:
            del self._streams[outlet.key]
            await stream.stop()

    def subscribers(self, key: Key) -> int:
        stream = self._streams.get(key)
        return len(stream.outlets) if stream is not None else 0

    async def close(self) -> None:
        streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            await stream.stop()
        await self.channel.close()

    def _open_call(self, key: Key) -> Any:
        symbol, timeframe = key
        method = self.channel.channel().unary_stream(
            STREAM_METHOD,
            request_serializer=prediction_service_pb2.StreamPredictionsRequest.SerializeToString,
            response_deserializer=None,  # the bytes, as the engine serialised them once
        )
        return method(
            prediction_service_pb2.StreamPredictionsRequest(symbol=symbol, timeframe=timeframe),
            metadata=self.channel.metadata(),
            timeout=SERVICE_STREAM_DEADLINE_S,
        )
