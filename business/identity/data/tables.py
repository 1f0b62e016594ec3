"""Identity tables, in `public`: accounts, OAuth links, sessions, refresh tokens, backup codes and
one-time codes. (The audit log is business/audit/data.py.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from business.shared.database import Base, UtcDateTime


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: the account signs in only by OAuth or phone.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80), default="")
    phone_number: Mapped[str | None] = mapped_column(String(16), unique=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    role: Mapped[str] = mapped_column(String(16), default="user", index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    plan: Mapped[str] = mapped_column(String(32), default="free")
    # Fernet token of the base32 secret: pending while totp_enabled is false.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last accepted TOTP time step: a code is accepted once only.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    suspended_reason: Mapped[str | None] = mapped_column(String(500))


class OAuthIdentityRow(Base):
    __tablename__ = "oauth_identities"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionRow(Base):
    """A signed-in device: the family of refresh tokens issued since one sign-in."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(64))


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"

    # sha256 of the opaque token: a database leak yields no usable token.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    spent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The token that replaced this one, and that token sealed for this one's holder (the grace
    # window of concurrent refreshes); the sealed copy is dropped once the successor is spent.
    successor_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    successor_sealed: Mapped[str | None] = mapped_column(Text)


class BackupCodeRow(Base):
    __tablename__ = "backup_codes"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OneTimeCodeRow(Base):
    """Email links, SMS codes and login challenges: stored as digests, single use, expiring."""

    __tablename__ = "one_time_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    # email_verify | password_reset | phone_login | login_challenge
    purpose: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    salt: Mapped[str] = mapped_column(String(64), default="")
    # What the code is for: the email or phone it was sent to, or a challenge's sign-in method.
    target: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
