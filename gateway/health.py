"""GET /healthz: liveness of the gateway process (the supervisor polls it)."""

from __future__ import annotations

from fastapi import APIRouter

HEALTHZ_PATH = "/healthz"


def router() -> APIRouter:
    api = APIRouter()

    @api.get(HEALTHZ_PATH)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return api
