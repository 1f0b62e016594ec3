"""POST /api/auth/dev-token: a token for local demos, without a login.

Off unless DEV_TOKENS_ENABLED; GatewaySettings refuses to load with it on in production.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

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
    def dev_token() -> JSONResponse:
        if not settings.dev_tokens_enabled:
            # Same answer as an unknown path: a disabled endpoint does not advertise itself.
            return error_response(404, f"no route for POST {PATH}")
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
