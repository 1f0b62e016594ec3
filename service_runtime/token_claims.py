"""The claims of every access token the platform signs: user tokens (business), service tokens
(the gateway's OAuth callback) and local demo tokens. One shape, so every verifier sees the same."""

from __future__ import annotations

import uuid
from typing import Any


def access_claims(
    *,
    subject: str,
    roles: list[str],
    plan: str,
    issuer: str,
    audience: str,
    ttl_s: int,
    now: float,
    session_id: str = "",
) -> dict[str, Any]:
    # iat keeps `now` as given (business passes a float: revoking a subject at time T must not
    # also reject a token issued within the same second right after T); nbf and exp are whole
    # seconds as JWT verifiers expect.
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": roles,
        "plan": plan,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": int(now),
        "exp": int(now) + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if session_id:
        claims["sid"] = session_id
    return claims
