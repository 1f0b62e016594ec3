"""GET /.well-known/jwks.json: the public keys Envoy and the services verify access tokens with."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.keys import read_jwks
from service_runtime.signing_keys import SigningKeyStore


def router(store: SigningKeyStore, max_age_s: int) -> APIRouter:
    api = APIRouter()

    @api.get("/.well-known/jwks.json")
    def jwks() -> JSONResponse:
        # Read from disk on every request (a few small files): a rotation done by another
        # process is published at once; the max-age bounds how long verifiers cache it.
        return JSONResponse(read_jwks(store), headers={"Cache-Control": f"public, max-age={max_age_s}"})

    return api
