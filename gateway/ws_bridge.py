"""`WS /ws/{symbol}?timeframe=1h`: the seed's prediction stream for browsers, bridged to the ML
engine's `PredictionService.StreamPredictions` server stream.

Each message is one `StreamPredictionsResponse` as JSON text, with the field names the REST API
uses (lowerCamelCase, every field present), so a page reads the same shapes from REST and here.

Access: the same JWT as the APIs, as `Authorization: Bearer <token>` or, since a browser cannot
set headers on a WebSocket, as the `access_token` query parameter. Envoy lets /ws/ through
without its jwt_authn check: a handshake Envoy refused with HTTP 401 tells a browser nothing
(the WebSocket API hides the status), so the bridge verifies the token itself (signature,
issuer, audience, expiry, revocation list) before anything is streamed, and a refusal is a
close frame with code 1008 and the reason. The socket is accepted only to carry that frame: a
Starlette close before accept becomes a bare HTTP 403. The token then travels on to the ML
engine, which checks it again and applies the RPC's access rule (zero trust).

Each bar's message is turned into JSON once, not once per socket: the engine serialises a bar's
message once for all its subscribers, so every socket's call receives the same bytes, and the
bridge keeps the JSON of the last bytes it converted (`JsonMemo`) instead of parsing and printing
the message again per socket.

The token is checked once per connection, like a gRPC stream's; a socket outliving the token's
expiry is closed with 1008 so the page reconnects with a fresh one.

The stream is a pro feature (its access rule lists plan pro): a token of another plan is refused
here already, close 1008 with "requires plan pro (this token's plan: free)", and by the engine.

gRPC outcomes become close codes: NOT_FOUND 4404, INVALID_ARGUMENT 4400, FAILED_PRECONDITION
4412, UNAUTHENTICATED / PERMISSION_DENIED 1008, RESOURCE_EXHAUSTED (the per-plan rate limit) 4429,
UNAVAILABLE 1013 (try again later), anything else 1011; the reason is the status message. A
client that goes away cancels the gRPC call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
from fastapi import APIRouter, FastAPI, WebSocket
from google.protobuf.json_format import MessageToJson
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gateway.config import GatewaySettings
from service_runtime.access import TokenVerifier, token_of_authorization
from service_runtime.caller import Caller
from service_runtime.client import outgoing_channel
from service_runtime.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from service_runtime.errors import DependencyUnavailable, PermissionDenied, Unauthenticated
from service_runtime.plans import require_plan
from service_runtime.revocations import Revocations
from trading.common.v1 import access_pb2
from trading.ml.v1 import prediction_service_pb2

log = logging.getLogger(__name__)

PATH = "/ws/{symbol}"
STREAM_METHOD = "/trading.ml.v1.PredictionService/StreamPredictions"
# Distinct messages whose JSON is kept: one per (symbol, timeframe) streamed at a time is enough.
JSON_MEMO_SIZE = 256
DEFAULT_TIMEFRAME = "1h"
TOKEN_QUERY_PARAMETER = "access_token"

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
# StreamPredictions' access rule: its plans (pro) are checked here before the socket streams.
STREAM_RULE = (
    prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"]
    .methods_by_name["StreamPredictions"]
    .GetOptions()
    .Extensions[access_pb2.access]
)
# A close frame's payload is at most 125 bytes: 2 for the code, 123 for the UTF-8 reason.
MAX_REASON_BYTES = 123


def close_code(status: grpc.StatusCode) -> int:
    return CLOSE_CODES.get(status, INTERNAL_ERROR)


def close_reason(message: str) -> str:
    """The message cut to what a close frame can carry, never in the middle of a character."""
    return message.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


def to_json(message: prediction_service_pb2.StreamPredictionsResponse) -> str:
    # Envoy's transcoder prints lowerCamelCase names and every primitive field: the same here.
    return MessageToJson(message, indent=None, always_print_fields_with_no_presence=True)


class JsonMemo:
    """The JSON of the serialised StreamPredictionsResponse messages seen last, by their bytes:
    every socket of a stream receives the same bytes for a bar, so the bar is parsed and printed
    once for all of them."""

    def __init__(self, size: int = JSON_MEMO_SIZE) -> None:
        self.size = size
        self.conversions = 0
        self._texts: OrderedDict[bytes, str] = OrderedDict()

    def text(self, payload: bytes) -> str:
        text = self._texts.get(payload)
        if text is None:
            text = to_json(prediction_service_pb2.StreamPredictionsResponse.FromString(payload))
            self.conversions += 1
            self._texts[payload] = text
            if len(self._texts) > self.size:
                self._texts.popitem(last=False)
        return text


def presented_token(websocket: WebSocket) -> str:
    """`Authorization: Bearer <token>` when sent, else the `access_token` query parameter."""
    header = websocket.headers.get("authorization", "")
    if header:
        return token_of_authorization(header)
    return websocket.query_params.get(TOKEN_QUERY_PARAMETER, "").strip()


class Refused(Exception):
    """The socket is closed with `code` before anything is streamed."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class StreamBridge:
    """Verifies the caller, then relays one StreamPredictions call per socket."""

    def __init__(
        self,
        settings: GatewaySettings,
        verifier: TokenVerifier | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier or settings.token_verifier()
        # Suspensions and logouts reach the gateway through Redis, as they reach the services.
        self.revocations = revocations or settings.revocations()
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.json = JsonMemo()

    def _stream_predictions(self) -> grpc.aio.UnaryStreamMultiCallable:
        """StreamPredictions answering each message's bytes as they came (JsonMemo parses them)."""
        # Created lazily, per event loop: a grpc.aio channel belongs to the loop that made it.
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            self._channel = outgoing_channel(
                self.settings.ml_grpc_target, timeout_ms=self.settings.outgoing_timeout_ms
            )
            self._loop = loop
        return self._channel.unary_stream(
            STREAM_METHOD,
            request_serializer=prediction_service_pb2.StreamPredictionsRequest.SerializeToString,
            response_deserializer=None,  # the bytes, as the engine serialised them once
        )

    async def close(self) -> None:
        if self._channel is not None and self._loop is asyncio.get_running_loop():
            await self._channel.close()
        self._channel = self._loop = None
        await self.revocations.close()

    async def admit(self, token: str) -> Caller:
        if not token:
            raise Refused(
                POLICY_VIOLATION,
                "an access token is required (Authorization: Bearer <token> "
                f"or ?{TOKEN_QUERY_PARAMETER}=<token>)",
            )
        try:
            # Off the event loop: an unknown kid may re-read the keys (a file or the JWKS URL).
            caller = await asyncio.to_thread(self.verifier.verify, token)
            if await self.revocations.is_revoked(caller):
                raise Unauthenticated("access token has been revoked")
            require_plan(caller, STREAM_RULE.plans)  # the ML engine checks again (zero trust)
        except (Unauthenticated, PermissionDenied) as error:
            raise Refused(POLICY_VIOLATION, error.message) from None
        except DependencyUnavailable as error:
            raise Refused(TRY_AGAIN_LATER, error.message) from None
        return caller

    async def serve(self, websocket: WebSocket, symbol: str) -> None:
        request_id = websocket.headers.get(REQUEST_ID_HEADER) or new_request_id()
        request_id_var.set(request_id)
        timeframe = websocket.query_params.get("timeframe", DEFAULT_TIMEFRAME)
        token = presented_token(websocket)
        try:
            caller = await self.admit(token)
        except Refused as refusal:
            log.info("stream refused", extra={"symbol": symbol, "reason": refusal.reason})
            await websocket.accept()  # only so the close frame (code and reason) reaches the client
            await websocket.close(refusal.code, close_reason(refusal.reason))
            return
        await websocket.accept()
        call = self._stream_predictions()(
            prediction_service_pb2.StreamPredictionsRequest(symbol=symbol, timeframe=timeframe),
            metadata=(("authorization", f"Bearer {token}"), (REQUEST_ID_HEADER, request_id)),
        )
        code, reason = await self._relay(websocket, call, caller.expires_at)
        call.cancel()
        log.info(
            "stream ended",
            extra={"symbol": symbol, "timeframe": timeframe, "subject": caller.subject, "close_code": code},
        )
        if websocket.application_state is WebSocketState.CONNECTED and code is not None:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(code, close_reason(reason))

    async def _relay(self, websocket: WebSocket, call: Any, expires_at: float) -> tuple[int | None, str]:
        """Runs until the stream ends, the client leaves or the token expires; the close code to
        send (None when the client is gone) and its reason."""
        pump = asyncio.create_task(self._pump(websocket, call))
        listen = asyncio.create_task(self._until_disconnect(websocket))
        expiry = asyncio.create_task(asyncio.sleep(max(0.0, expires_at - time.time())))
        try:
            done, _ = await asyncio.wait({pump, listen, expiry}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, listen, expiry):
                task.cancel()
            await asyncio.gather(pump, listen, expiry, return_exceptions=True)
        if listen in done:
            return None, ""
        if expiry in done and pump not in done:
            return POLICY_VIOLATION, "access token expired: reconnect with a fresh token"
        try:
            return pump.result()
        except (WebSocketDisconnect, OSError):  # the client left while a message was being sent
            return None, ""

    async def _pump(self, websocket: WebSocket, call: Any) -> tuple[int, str]:
        try:
            async for payload in call:
                await websocket.send_text(self.json.text(payload))
        except grpc.aio.AioRpcError as error:
            return close_code(error.code()), error.details() or error.code().name
        return NORMAL, "stream ended"

    @staticmethod
    async def _until_disconnect(websocket: WebSocket) -> None:
        # The stream is one-way; whatever a client sends is read and dropped, its close noticed.
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


def router(settings: GatewaySettings, bridge: StreamBridge | None = None) -> APIRouter:
    streams = bridge or StreamBridge(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await streams.close()

    api = APIRouter(lifespan=lifespan)

    @api.websocket(PATH)
    async def prediction_stream(websocket: WebSocket, symbol: str) -> None:
        await streams.serve(websocket, symbol)

    return api
