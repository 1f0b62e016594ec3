"""Access tokens: EdDSA JWTs signed with the platform's current key (its `kid` in the header)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any


class AccessTokenIssuer:
    def __init__(self, sign: Callable[[dict[str, Any]], str], issuer: str, audience: str, ttl_s: int) -> None:
        self.sign = sign
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    def claims(self, *, user_id: str, role: str, plan: str, session_id: str, now: float) -> dict[str, Any]:
        # iat is a float: revoking a subject at time T must not also reject a token issued
        # within the same second right after T (a re-login after a password reset).
        return {
            "sub": user_id,
            "roles": [role],
            "plan": plan,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": int(now),
            "exp": int(now) + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "sid": session_id,
        }

    def issue(self, *, user_id: str, role: str, plan: str, session_id: str, now: float) -> str:
        return self.sign(self.claims(user_id=user_id, role=role, plan=plan, session_id=session_id, now=now))
