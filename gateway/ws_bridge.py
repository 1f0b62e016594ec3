"""`WS /ws/{symbol}?timeframe=1h`: the seed's prediction stream for browsers, bridged to the ML
engine's `PredictionService.StreamPredictions` server stream.

Each message is one `StreamPredictionsResponse` as JSON text, with the field names the REST API
uses (lowerCamelCase, every field present), so a page reads the same shapes from REST and here.

The sockets following one (symbol, timeframe) share one call to the engine, made with the
gateway's service token (gateway/shared_streams.py says why and how); this module is the socket
side: who may stream, and the close codes.

Access: the same JWT as the APIs, as `Authorization: Bearer <token>` or, since a browser cannot
set headers on a WebSocket, as the `access_token` query parameter. Envoy lets /ws/ through
without its jwt_authn check: a handshake Envoy refused with HTTP 401 tells a browser nothing
(the WebSocket API hides the status), so the bridge verifies the token itself before anything is
streamed, as the engine verifies a call: signature, issuer, audience, expiry, the revocation
list, the plan (the stream is pro's: "requires plan pro (this token's plan: free)") and the
per-plan ML rate limit (a socket opened counts as a stream opened, in the same counter as the
engine's, shared through Redis). A refusal is a close frame with code 1008 (4429 for the rate
limit, 1013 when a store is down) and the reason. The socket is accepted only to carry that
frame: a Starlette close before accept becomes a bare HTTP 403.

While a socket streams, its token is checked again as the engine checks an open call's: every
ACCESS_STREAM_RECHECK_S all open sockets are looked up in the revocation list at once (one round
trip), a revoked one (logout, suspension) is closed with 1008, and a socket outliving its
token's expiry is closed with 1008 so the page reconnects with a fresh one.

gRPC outcomes become close codes: NOT_FOUND 4404, INVALID_ARGUMENT 4400, FAILED_PRECONDITION
4412, UNAUTHENTICATED / PERMISSION_DENIED 1008, RESOURCE_EXHAUSTED 4429, UNAVAILABLE 1013 (try
again later), anything else 1011; the reason is the status message. The last socket of a stream
going away cancels its gRPC call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gateway.config import SERVICE_SUBJECT, GatewaySettings
from gateway.shared_streams import (
    NORMAL,
    POLICY_VIOLATION,
    TRY_AGAIN_LATER,
    Ending,
    Outlet,
    SharedStreams,
)
from service_runtime.access import TokenVerifier, token_of_authorization
from service_runtime.caller import Caller
from service_runtime.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from service_runtime.errors import DependencyUnavailable, PermissionDenied, TooManyAttempts, Unauthenticated
from service_runtime.plans import require_plan
from service_runtime.rate_limits import PlanRateLimiter, window_counter
from service_runtime.revocations import Revocations
from service_runtime.service_token import ServiceChannel
from service_runtime.signing_keys import SigningKeyStore
from trading.common.v1 import access_pb2
from trading.ml.v1 import prediction_service_pb2

log = logging.getLogger(__name__)

PATH = "/ws/{symbol}"
DEFAULT_TIMEFRAME = "1h"
TOKEN_QUERY_PARAMETER = "access_token"
RATE_LIMITED = 4429
# StreamPredictions' access rule: its plans (pro) are checked here before the socket streams.
STREAM_RULE = (
    prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"]
    .methods_by_name["StreamPredictions"]
    .GetOptions()
    .Extensions[access_pb2.access]
)
# A close frame's payload is at most 125 bytes: 2 for the code, 123 for the UTF-8 reason.
MAX_REASON_BYTES = 123
REVOKED = "access token has been revoked; the stream ends"


def close_reason(message: str) -> str:
    """The message cut to what a close frame can carry, never in the middle of a character."""
    return message.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


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
    """Admits each socket (token, revocation, plan, rate limit), joins it to its key's shared
    stream, and keeps checking it while it streams."""

    def __init__(
        self,
        settings: GatewaySettings,
        keys: SigningKeyStore,
        verifier: TokenVerifier | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier or settings.token_verifier()
        # Suspensions and logouts reach the gateway through Redis, as they reach the services.
        self.revocations = revocations or settings.revocations()
        # The same counter as the engine's (Redis when configured): a socket is a stream opened.
        self.rate_limiter = PlanRateLimiter(settings.rate_limits(), window_counter(settings.redis_url))
        self.streams = SharedStreams(
            ServiceChannel(
                target=settings.ml_grpc_target,
                keys=keys,
                subject=SERVICE_SUBJECT,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                timeout_s=settings.outgoing_timeout_ms / 1000,
            )
        )
        self.open_sockets: dict[Outlet, Caller] = {}
        self._recheck: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck
        await self.streams.close()
        await self.revocations.close()
        await self.rate_limiter.close()

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
            require_plan(caller, STREAM_RULE.plans)
            await self.rate_limiter.admit(caller)
        except (Unauthenticated, PermissionDenied) as error:
            raise Refused(POLICY_VIOLATION, error.message) from None
        except TooManyAttempts as error:
            raise Refused(RATE_LIMITED, error.message) from None
        except DependencyUnavailable as error:
            raise Refused(TRY_AGAIN_LATER, error.message) from None
        return caller

    async def serve(self, websocket: WebSocket, symbol: str) -> None:
        request_id = websocket.headers.get(REQUEST_ID_HEADER) or new_request_id()
        request_id_var.set(request_id)
        timeframe = websocket.query_params.get("timeframe", DEFAULT_TIMEFRAME)
        try:
            caller = await self.admit(presented_token(websocket))
        except Refused as refusal:
            log.info("stream refused", extra={"symbol": symbol, "reason": refusal.reason})
            await websocket.accept()  # only so the close frame (code and reason) reaches the client
            await websocket.close(refusal.code, close_reason(refusal.reason))
            return
        await websocket.accept()
        outlet = self.streams.join((symbol, timeframe))
        self._watch(outlet, caller)
        try:
            code, reason = await self._relay(websocket, outlet, caller.expires_at)
        finally:
            self.open_sockets.pop(outlet, None)
            await self.streams.leave(outlet)
        log.info(
            "stream ended",
            extra={"symbol": symbol, "timeframe": timeframe, "subject": caller.subject, "close_code": code},
        )
        if websocket.application_state is WebSocketState.CONNECTED and code is not None:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(code, close_reason(reason))

    def _watch(self, outlet: Outlet, caller: Caller) -> None:
        """Puts the socket under the periodic revocation check (started with the first socket)."""
        self.open_sockets[outlet] = caller
        if self._recheck is None or self._recheck.done():
            self._recheck = asyncio.create_task(self._recheck_open_sockets(), name="ws revocation check")

    async def _recheck_open_sockets(self) -> None:
        """Every ACCESS_STREAM_RECHECK_S while sockets are open: ends the revoked ones (all of them,
        1013, when the list cannot be read: fail closed, as the engine's check)."""
        while self.open_sockets:
            await asyncio.sleep(self.settings.access_stream_recheck_s)
            sockets = list(self.open_sockets.items())
            try:
                revoked = await self.revocations.revoked_among([caller for _, caller in sockets])
            except DependencyUnavailable as error:
                for outlet, _ in sockets:
                    outlet.end(TRY_AGAIN_LATER, error.message, drop_pending=True)
                continue
            for (outlet, _), is_revoked in zip(sockets, revoked, strict=True):
                if is_revoked:
                    outlet.end(POLICY_VIOLATION, REVOKED, drop_pending=True)

    async def _relay(self, websocket: WebSocket, outlet: Outlet, expires_at: float) -> tuple[int | None, str]:
        """Runs until the stream ends for this socket, the client leaves or the token expires; the
        close code to send (None when the client is gone) and its reason."""
        pump = asyncio.create_task(self._pump(websocket, outlet))
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

    @staticmethod
    async def _pump(websocket: WebSocket, outlet: Outlet) -> Ending:
        while (text := await outlet.next()) is not None:
            await websocket.send_text(text)
        return outlet.ending or (NORMAL, "stream ended")

    @staticmethod
    async def _until_disconnect(websocket: WebSocket) -> None:
        # The stream is one-way; whatever a client sends is read and dropped, its close noticed.
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


def router(bridge: StreamBridge) -> APIRouter:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await bridge.close()

    api = APIRouter(lifespan=lifespan)

    @api.websocket(PATH)
    async def prediction_stream(websocket: WebSocket, symbol: str) -> None:
        await bridge.serve(websocket, symbol)

    return api
