"""How a finished sign-in reaches the browser: a redirect to the web app (`/oauth/callback`)
with the access token (or the 2FA challenge) in the URL fragment and the refresh token in the
edge's httpOnly cookie, or an error in the fragment; or the same result as JSON for API clients.

The fragment is never sent to any server (not ours, not a referrer), which is why the access
token travels there rather than in the query string. The refresh token never enters the page:
the callback sets the same cookie the edge sets on a sign-in (envoy/refresh_cookie.lua), on the
same paths, so the web app's Refresh and Logout find it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import JSONResponse, RedirectResponse
from google.protobuf import json_format

from gateway.errors import error_code
from gateway.oauth.errors import OAuthFlowError
from trading.identity.v1 import auth_service_pb2

# Nothing of a sign-in may be cached, and the callback URL (it holds the code) must not leak
# to the next page as a referrer.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}
# The refresh cookie's paths: those of envoy/refresh_cookie.py (AuthService's gRPC-Web calls and
# its REST routes). Its name: __Secure-refresh under TLS, `refresh` on plain-HTTP local runs.
REFRESH_COOKIE_PATHS = ("/trading.identity.v1.AuthService/", "/api/auth/")


def refresh_cookie_name(secure: bool) -> str:
    return "__Secure-refresh" if secure else "refresh"


def fragment_params(reply: auth_service_pb2.CompleteOAuthLoginResponse) -> dict[str, str]:
    """The fragment of a browser's redirect: never the refresh token (it goes in the cookie)."""
    which = reply.WhichOneof("result")
    if which == "tokens":
        tokens = reply.tokens
        return {
            "access_token": tokens.access_token,
            "token_type": tokens.token_type or "Bearer",
            "expires_in": str(tokens.expires_in),
            "session_id": tokens.session_id,
        }
    if which == "challenge":
        challenge = reply.challenge
        return {
            "challenge_token": challenge.challenge_token,
            "expires_in": str(challenge.expires_in),
            "methods": ",".join(challenge.methods),
        }
    raise OAuthFlowError(502, "sign-in failed: the account service returned neither tokens nor a challenge")


def redirect_with_result(
    target: str, reply: auth_service_pb2.CompleteOAuthLoginResponse, *, secure: bool
) -> RedirectResponse:
    base = target.split("#", 1)[0]
    response = RedirectResponse(
        f"{base}#{urlencode(fragment_params(reply))}", status_code=302, headers=NO_STORE
    )
    if reply.WhichOneof("result") == "tokens" and reply.tokens.refresh_token:
        for path in REFRESH_COOKIE_PATHS:
            response.set_cookie(
                refresh_cookie_name(secure),
                reply.tokens.refresh_token,
                max_age=reply.tokens.refresh_expires_in,
                path=path,
                httponly=True,
                samesite="strict",
                secure=secure,
            )
    return response


def redirect_with_error(target: str, error: OAuthFlowError) -> RedirectResponse:
    """A failed sign-in, back to the web app: `#error=<code>&error_description=<text>`, the code
    the provider's own (access_denied, invalid_grant) or the envelope's (invalid_argument, ...)."""
    base = target.split("#", 1)[0]
    fragment = urlencode(
        {"error": error.provider_error or error_code(error.status), "error_description": error.message}
    )
    return RedirectResponse(f"{base}#{fragment}", status_code=302, headers=NO_STORE)


def json_result(reply: auth_service_pb2.CompleteOAuthLoginResponse) -> JSONResponse:
    """The reply as the REST login answers look through Envoy (camelCase proto JSON)."""
    fragment_params(reply)  # same check: a reply without a result is an error
    body: dict[str, Any] = json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)
    return JSONResponse(body, headers=NO_STORE)
