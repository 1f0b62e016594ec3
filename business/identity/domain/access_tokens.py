"""Access tokens: EdDSA JWTs signed with the platform's current key (its `kid` in the header)."""

from __future__ import annotations

from typing import Any

from business.identity.domain.entities import INSTRUCTOR, USER
from business.identity.domain.ports import TokenSigner
from service_runtime.token_claims import access_claims


class AccessTokenIssuer:
    def __init__(self, sign: TokenSigner, issuer: str, audience: str, ttl_s: int) -> None:
        self.sign = sign
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    @staticmethod
    def roles(role: str) -> list[str]:
        """The token's roles for an account's role: an instructor is also a user (its own
        account, learning), so RPCs open to users stay open to instructors."""
        return [INSTRUCTOR, USER] if role == INSTRUCTOR else [role]

    def claims(self, *, user_id: str, role: str, plan: str, session_id: str, now: float) -> dict[str, Any]:
        return access_claims(
            subject=user_id,
            roles=self.roles(role),
            plan=plan,
            issuer=self.issuer,
            audience=self.audience,
            ttl_s=self.ttl_s,
            now=now,
            session_id=session_id,
        )

    def issue(self, *, user_id: str, role: str, plan: str, session_id: str, now: float) -> str:
        return self.sign(self.claims(user_id=user_id, role=role, plan=plan, session_id=session_id, now=now))
