"""Service-to-service calls: a short-lived token signed with the caller's own key.

Some RPCs are allowed to role "service" only (the gateway's OAuth callback and Stripe webhooks
into business; business reading the market feed and signals from the ML engine). The calling
process proves itself with a token it signs with its own key, trusted through the same JWKS as
every user token, valid for one minute: a leaked one is worthless soon, and no long-lived
service secret exists anywhere.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from service_runtime.client import outgoing_channel
from service_runtime.signing_keys import SigningKeyStore
from service_runtime.token_claims import access_claims

SERVICE_TOKEN_TTL_S = 60
# A stream opened with a service token ends when the token expires (the callee's access check); a
# client waits this long at most, so a callee that never sends the end cannot hold it for ever.
SERVICE_STREAM_DEADLINE_S = SERVICE_TOKEN_TTL_S + 30


def service_token_claims(subject: str, issuer: str, audience: str, now: int) -> dict[str, Any]:
    return access_claims(
        subject=subject,
        roles=["service"],
        plan="",
        issuer=issuer,
        audience=audience,
        ttl_s=SERVICE_TOKEN_TTL_S,
        now=now,
    )


def stream_token_expired(error: grpc.aio.AioRpcError) -> bool:
    """A stream opened with a service token ended only because the token did (the callee's access
    check), or its deadline, set just past it: the caller opens it again with a fresh token."""
    expired = error.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in (error.details() or "")
    return expired or error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


class ServiceChannel:
    """A long-lived channel to another service (grpc reconnects by itself), made lazily per event
    loop: a grpc.aio channel belongs to the loop that made it (uvicorn runs one; test clients may
    run several in turn). Every call's metadata carries a fresh service token."""

    def __init__(
        self,
        *,
        target: str,
        keys: SigningKeyStore,
        subject: str,
        issuer: str,
        audience: str,
        timeout_s: float,
    ) -> None:
        self.target = target
        self.keys = keys
        self.subject = subject
        self.issuer = issuer
        self.audience = audience
        self.timeout_s = timeout_s
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def channel(self) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            self._channel = outgoing_channel(self.target, timeout_ms=int(self.timeout_s * 1000))
            self._loop = loop
        return self._channel

    def metadata(self, request_id: str = "") -> list[tuple[str, str]]:
        """A fresh service token, and the request id so that the callee logs the same one."""
        claims = service_token_claims(self.subject, self.issuer, self.audience, int(time.time()))
        metadata = [("authorization", f"Bearer {self.keys.sign(claims)}")]
        if request_id:
            metadata.append(("x-request-id", request_id))
        return metadata

    async def close(self) -> None:
        if self._channel is not None and self._loop is asyncio.get_running_loop():
            await self._channel.close()
        self._channel = self._loop = None
