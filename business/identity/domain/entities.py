"""What identity keeps: accounts, their sign-in sessions and refresh tokens, OAuth links and
one-time codes. Plain dataclasses; identity/data maps them to and from table rows.

Times are timezone-aware UTC. Secrets are never kept in clear: passwords as argon2id hashes,
tokens and codes as digests, the TOTP secret encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

USER = "user"
ADMIN = "admin"
# Writes courses (education); learns like a user.
INSTRUCTOR = "instructor"
PLANS = ("free", "pro")
ACTIVE = "active"
SUSPENDED = "suspended"


@dataclass(kw_only=True)
class User:
    id: str
    email: str
    created_at: datetime
    updated_at: datetime
    email_verified: bool = False
    # None: the account signs in only by OAuth or phone.
    password_hash: str | None = None
    display_name: str = ""
    phone_number: str | None = None
    phone_verified: bool = False
    role: str = USER
    status: str = ACTIVE
    plan: str = "free"
    # Fernet token of the base32 secret: pending while totp_enabled is false.
    totp_secret_encrypted: str | None = None
    totp_enabled: bool = False
    # The last accepted TOTP time step: a code is accepted once only.
    totp_last_step: int | None = None
    last_login_at: datetime | None = None
    suspended_reason: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE


# Fields of a user worth a before/after in the audit log; secrets are not among them.
PROFILE_FIELDS = (
    "email",
    "email_verified",
    "display_name",
    "phone_number",
    "phone_verified",
    "role",
    "status",
    "plan",
    "totp_enabled",
    "suspended_reason",
)


@dataclass(kw_only=True)
class SignInSession:
    """A signed-in device: the family of refresh tokens issued since one sign-in."""

    id: str
    user_id: str
    method: str
    ip: str = ""
    user_agent: str = ""
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefreshToken:
    # sha256 of the opaque token: a database leak yields no usable token.
    digest: str
    session_id: str
    issued_at: datetime
    expires_at: datetime
    spent_at: datetime | None = None
    # Set when the token is spent: the digest of the token that replaced it and that token
    # sealed for whoever holds this one (see sessions.py, the refresh grace window).
    successor_digest: str | None = None
    successor_sealed: str | None = None


@dataclass(frozen=True, kw_only=True)
class OAuthIdentity:
    provider: str
    subject: str
    user_id: str
    email: str = ""
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class OneTimeCode:
    """Email links, SMS codes and login challenges: stored as digests, single use, expiring."""

    id: str
    user_id: str | None
    # email_verify | password_reset | phone_login | login_challenge
    purpose: str
    digest: str
    salt: str = ""
    # What the code is for: the email or phone it was sent to, or a challenge's sign-in method.
    target: str = ""
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None
