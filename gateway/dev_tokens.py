"""POST /api/auth/dev-token: a token for local demos, without a login.

Off unless DEV_TOKENS_ENABLED (an unknown route then: 404); GatewaySettings refuses to load with
it on unless APP_ENV is development or test. When on, it mints only for a caller on this host
(403 otherwise): `make run`'s Envoy listens on loopback, and should it listen on every interface,
a caller from another host is still refused (gateway/client_address.py).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.client_address import from_loopback
from gateway.config import GatewaySettings
from gateway.errors import error_response
from service_runtime.signing_keys import SigningKeyStore
from service_runtime.token_claims import access_claims

PATH = "/api/auth/dev-token"


def dev_claims(settings: GatewaySettings, now: int) -> dict[str, Any]:
    return access_claims(
        subject="dev-user",
        roles=["user"],
        plan="free",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=settings.jwt_access_ttl_s,
        now=now,
    )


def router(settings: GatewaySettings, store: SigningKeyStore) -> APIRouter:
    api = APIRouter()

    @api.post(PATH)
    def dev_token(request: Request) -> JSONResponse:
        if not settings.dev_tokens_enabled:
            # Same answer as an unknown path: a disabled endpoint does not advertise itself.
            return error_response(404, f"no route for POST {PATH}")
        if not from_loopback(request):
            return error_response(403, "dev tokens are minted only for callers on this host (loopback)")
        token = store.sign(dev_claims(settings, int(time.time())))
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": settings.jwt_access_ttl_s,
            },
            headers={"Cache-Control": "no-store"},
        )

    return api
