"""The account side of a sign-in: business's AuthService/CompleteOAuthLogin over gRPC.

The RPC is allowed to role "service" only, so the gateway proves itself with a token it
signs with its own key (the same JWKS every service trusts), valid for one minute: a leaked
one is worthless soon, and no long-lived service secret exists anywhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc

from gateway.config import GatewaySettings
from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.userinfo import ProviderIdentity
from service_runtime.client import outgoing_channel
from service_runtime.signing_keys import SigningKeyStore
from service_runtime.token_claims import access_claims
from trading.identity.v1 import auth_service_pb2, auth_service_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_SUBJECT = "service:gateway"
SERVICE_TOKEN_TTL_S = 60

# What a failed CompleteOAuthLogin means to the browser. Errors that only a gateway bug or a
# misconfiguration can cause (an unknown method, an internal error) become 502.
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    # e.g. a suspended account ("sign-in refused"); also our own token refused, which is logged.
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Messages of these codes are written for end users by business; others are not shown.
_PASS_THROUGH = frozenset(_HTTP_STATUS)


def service_token_claims(settings: GatewaySettings, now: int) -> dict[str, Any]:
    return access_claims(
        subject=SERVICE_SUBJECT,
        roles=["service"],
        plan="",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=SERVICE_TOKEN_TTL_S,
        now=now,
    )


class BusinessAuth:
    """A long-lived channel to business (grpc reconnects by itself) and the one call we make."""

    def __init__(self, settings: GatewaySettings, keys: SigningKeyStore) -> None:
        self.settings = settings
        self.keys = keys
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _stub(self) -> auth_service_pb2_grpc.AuthServiceStub:
        # Created lazily, per event loop: a grpc.aio channel belongs to the loop that made it
        # (uvicorn runs one; test clients may run several in turn).
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            self._channel = outgoing_channel(
                self.settings.business_grpc_target,
                timeout_ms=int(self.settings.oauth_business_timeout_s * 1000),
            )
            self._loop = loop
        return auth_service_pb2_grpc.AuthServiceStub(self._channel)

    async def complete_login(
        self, identity: ProviderIdentity, *, client_ip: str, user_agent: str, request_id: str = ""
    ) -> auth_service_pb2.CompleteOAuthLoginResponse:
        request = auth_service_pb2.CompleteOAuthLoginRequest(
            provider=identity.provider,
            subject=identity.subject,
            email=identity.email,
            email_verified=identity.email_verified,
            display_name=identity.display_name,
            client_ip=client_ip,
            user_agent=user_agent,
        )
        token = self.keys.sign(service_token_claims(self.settings, int(time.time())))
        metadata = [("authorization", f"Bearer {token}")]
        if request_id:
            metadata.append(("x-request-id", request_id))
        try:
            reply: auth_service_pb2.CompleteOAuthLoginResponse = await self._stub().CompleteOAuthLogin(
                request, metadata=metadata, timeout=self.settings.oauth_business_timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc) from exc
        return reply

    async def close(self) -> None:
        if self._channel is not None and self._loop is asyncio.get_running_loop():
            await self._channel.close()
        self._channel = self._loop = None


def rpc_error(exc: grpc.aio.AioRpcError) -> OAuthFlowError:
    code = exc.code()
    status = _HTTP_STATUS.get(code, 502)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        # Either the account may not sign in, or business refused the gateway itself: keep a trace.
        log.warning("CompleteOAuthLogin refused", extra={"code": code.name, "details": exc.details()})
    if code in _PASS_THROUGH:
        message = exc.details() or "sign-in failed"
    else:
        log.error("CompleteOAuthLogin failed", extra={"code": code.name, "details": exc.details()})
        message = "sign-in failed: the account service refused the gateway's request"
    if code is grpc.StatusCode.UNAVAILABLE:
        message = "sign-in is unavailable: the account service cannot be reached"
    return OAuthFlowError(status, message)
