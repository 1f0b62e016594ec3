"""The gateway's calls to business: one channel per event loop and the caller's metadata.

The RPCs the gateway calls (CompleteOAuthLogin, RecordStripeEvent) are allowed to role "service"
only, so the gateway proves itself with a token it signs with its own key (the same JWKS every
service trusts), valid for one minute: a leaked one is worthless soon, and no long-lived service
secret exists anywhere.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

from gateway.config import GatewaySettings
from service_runtime.client import outgoing_channel
from service_runtime.signing_keys import SigningKeyStore
from service_runtime.token_claims import access_claims

SERVICE_SUBJECT = "service:gateway"
SERVICE_TOKEN_TTL_S = 60


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


class BusinessChannel:
    """A long-lived channel to business (grpc reconnects by itself), made lazily per event loop:
    a grpc.aio channel belongs to the loop that made it (uvicorn runs one; test clients may run
    several in turn)."""

    def __init__(self, settings: GatewaySettings, keys: SigningKeyStore) -> None:
        self.settings = settings
        self.keys = keys
        self.timeout_s = settings.oauth_business_timeout_s
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def channel(self) -> grpc.aio.Channel:
        loop = asyncio.get_running_loop()
        if self._channel is None or self._loop is not loop:
            self._channel = outgoing_channel(
                self.settings.business_grpc_target, timeout_ms=int(self.timeout_s * 1000)
            )
            self._loop = loop
        return self._channel

    def metadata(self, request_id: str) -> list[tuple[str, str]]:
        """A fresh service token, and the edge's request id so that business logs the same one."""
        token = self.keys.sign(service_token_claims(self.settings, int(time.time())))
        metadata = [("authorization", f"Bearer {token}")]
        if request_id:
            metadata.append(("x-request-id", request_id))
        return metadata

    async def close(self) -> None:
        if self._channel is not None and self._loop is asyncio.get_running_loop():
            await self._channel.close()
        self._channel = self._loop = None
