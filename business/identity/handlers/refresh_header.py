"""The refresh token in headers, for the edge's httpOnly cookie (envoy/refresh_cookie.lua).

A browser never sees its refresh token: the edge keeps it in a cookie. For a call from the web
app the edge adds `x-refresh-cookie: 1`; then a sign-in or a refresh answers the new refresh token
in the `x-refresh-token` header (with its lifetime in `x-refresh-max-age`), which the edge turns
into Set-Cookie and removes, and leaves the message's `refresh_token` empty. Refresh and Logout
with an empty `refresh_token` take the one the edge read from the cookie (`x-refresh-token`).
Every other caller (curl, gRPC, a service) sends and gets the token in the message as before.
"""

from __future__ import annotations

from business.shared.proto_mapping import Context
from trading.identity.v1 import identity_pb2 as pb

COOKIE_MODE_HEADER = "x-refresh-cookie"
TOKEN_HEADER = "x-refresh-token"
MAX_AGE_HEADER = "x-refresh-max-age"


def _metadata(context: Context, key: str) -> str:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else value.decode("ascii", "replace")
    return ""


def presented_token(context: Context, in_message: str) -> str:
    """The message's refresh token, else the one the edge read from the cookie."""
    return in_message or _metadata(context, TOKEN_HEADER)


async def hand_to_edge(context: Context, tokens: pb.TokenPair | None) -> None:
    """In cookie mode, moves the refresh token of `tokens` (if any) from the message to headers."""
    if tokens is None or not tokens.refresh_token or _metadata(context, COOKIE_MODE_HEADER) != "1":
        return
    await context.send_initial_metadata(
        ((TOKEN_HEADER, tokens.refresh_token), (MAX_AGE_HEADER, str(tokens.refresh_expires_in)))
    )
    tokens.refresh_token = ""
