"""How a finished sign-in reaches the browser: a redirect to the web app with the tokens (or
the 2FA challenge) in the URL fragment, or the same result as JSON for API clients.

The fragment is never sent to any server (not ours, not a referrer), which is why tokens
travel there rather than in the query string.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import JSONResponse, RedirectResponse
from google.protobuf import json_format

from gateway.oauth.errors import OAuthFlowError
from trading.identity.v1 import auth_service_pb2

# Nothing of a sign-in may be cached, and the callback URL (it holds the code) must not leak
# to the next page as a referrer.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer"}


def fragment_params(reply: auth_service_pb2.CompleteOAuthLoginResponse) -> dict[str, str]:
    which = reply.WhichOneof("result")
    if which == "tokens":
        tokens = reply.tokens
        return {
            "access_token": tokens.access_token,
            "token_type": tokens.token_type or "Bearer",
            "expires_in": str(tokens.expires_in),
            "refresh_token": tokens.refresh_token,
            "refresh_expires_in": str(tokens.refresh_expires_in),
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


def redirect_with_result(target: str, reply: auth_service_pb2.CompleteOAuthLoginResponse) -> RedirectResponse:
    base = target.split("#", 1)[0]
    return RedirectResponse(f"{base}#{urlencode(fragment_params(reply))}", status_code=302, headers=NO_STORE)


def json_result(reply: auth_service_pb2.CompleteOAuthLoginResponse) -> JSONResponse:
    """The reply as the REST login answers look through Envoy (camelCase proto JSON)."""
    fragment_params(reply)  # same check: a reply without a result is an error
    body: dict[str, Any] = json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)
    return JSONResponse(body, headers=NO_STORE)
