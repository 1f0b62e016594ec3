"""Reads and writes of the identity tables. Every function works inside the caller's
transaction (a Session of a BusinessStore unit of work) and never commits on its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from business.identity.data.tables import (
    AuditEvent,
    BackupCode,
    OAuthIdentity,
    OneTimeCode,
    RefreshToken,
    User,
)
from business.identity.data.tables import Session as SignInSession

# --- users -----------------------------------------------------------------------------------


def get_user(s: Session, user_id: str, *, lock: bool = False) -> User | None:
    query = select(User).where(User.id == user_id)
    if lock:
        query = query.with_for_update()
    return s.scalars(query).first()


def user_by_email(s: Session, email: str) -> User | None:
    return s.scalars(select(User).where(User.email == email)).first()


def user_by_phone(s: Session, phone_number: str) -> User | None:
    return s.scalars(select(User).where(User.phone_number == phone_number)).first()


def lock_active_admins(s: Session) -> list[str]:
    """Ids of the active admins, row-locked (PostgreSQL) so two concurrent demotions cannot
    both see another admin left."""
    query = select(User.id).where(User.role == "admin", User.status == "active").with_for_update()
    return list(s.scalars(query))


def list_users(
    s: Session, *, query: str, role: str, status: str, limit: int, after: tuple[datetime, str] | None
) -> list[User]:
    """Newest first; keyset paging on (created_at, id)."""
    statement = select(User)
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    if role:
        statement = statement.where(User.role == role)
    if status:
        statement = statement.where(User.status == status)
    if after is not None:
        created_at, user_id = after
        statement = statement.where(
            or_(User.created_at < created_at, (User.created_at == created_at) & (User.id < user_id))
        )
    statement = statement.order_by(User.created_at.desc(), User.id.desc()).limit(limit)
    return list(s.scalars(statement))


def linked_providers(s: Session, user_id: str) -> list[str]:
    query = (
        select(OAuthIdentity.provider)
        .where(OAuthIdentity.user_id == user_id)
        .order_by(OAuthIdentity.provider)
    )
    return list(s.scalars(query))


def oauth_identity(s: Session, provider: str, subject: str) -> OAuthIdentity | None:
    return s.get(OAuthIdentity, (provider, subject))


# --- sessions and refresh tokens ---------------------------------------------------------------


def get_session(s: Session, session_id: str) -> SignInSession | None:
    return s.get(SignInSession, session_id)


def active_sessions(s: Session, user_id: str, now: datetime) -> list[SignInSession]:
    query = (
        select(SignInSession)
        .where(
            SignInSession.user_id == user_id,
            SignInSession.revoked_at.is_(None),
            SignInSession.expires_at > now,
        )
        .order_by(SignInSession.created_at.desc(), SignInSession.id.desc())
    )
    return list(s.scalars(query))


def revoke_session(s: Session, session_id: str, now: datetime, reason: str) -> bool:
    """True when this call ended the session (it was not revoked already)."""
    result = s.execute(
        update(SignInSession)
        .where(SignInSession.id == session_id, SignInSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_user_sessions(
    s: Session, user_id: str, now: datetime, reason: str, *, keep: str = ""
) -> list[str]:
    """Ends every open session of the user (but `keep`); returns the ids ended."""
    ids = [
        sid
        for sid in s.scalars(
            select(SignInSession.id).where(
                SignInSession.user_id == user_id, SignInSession.revoked_at.is_(None)
            )
        )
        if sid != keep
    ]
    if ids:
        s.execute(
            update(SignInSession)
            .where(SignInSession.id.in_(ids), SignInSession.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
    return ids


def get_refresh_token(s: Session, digest: str) -> RefreshToken | None:
    return s.get(RefreshToken, digest)


def spend_refresh_token(s: Session, digest: str, now: datetime) -> bool:
    """The conditional UPDATE that makes rotation safe: of two concurrent refreshes with the
    same token, exactly one changes the row (PostgreSQL re-checks the WHERE after the first
    commits; SQLite serialises writers)."""
    result = s.execute(
        update(RefreshToken)
        .where(RefreshToken.digest == digest, RefreshToken.spent_at.is_(None))
        .values(spent_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- backup codes ------------------------------------------------------------------------------


def replace_backup_codes(s: Session, user_id: str, digests: Sequence[str]) -> None:
    s.query(BackupCode).filter(BackupCode.user_id == user_id).delete()
    s.add_all(BackupCode(user_id=user_id, digest=d) for d in digests)


def use_backup_code(s: Session, user_id: str, digest: str, now: datetime) -> bool:
    result = s.execute(
        update(BackupCode)
        .where(BackupCode.user_id == user_id, BackupCode.digest == digest, BackupCode.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_backup_codes(s: Session, user_id: str) -> None:
    s.query(BackupCode).filter(BackupCode.user_id == user_id).delete()


def unused_backup_codes(s: Session, user_id: str) -> int:
    query = (
        select(func.count())
        .select_from(BackupCode)
        .where(BackupCode.user_id == user_id, BackupCode.used_at.is_(None))
    )
    return int(s.scalar(query) or 0)


# --- one-time codes (links, SMS codes, login challenges) ---------------------------------------


def code_by_digest(s: Session, purpose: str, digest: str) -> OneTimeCode | None:
    query = select(OneTimeCode).where(OneTimeCode.purpose == purpose, OneTimeCode.digest == digest)
    return s.scalars(query).first()


def latest_code_for_target(s: Session, purpose: str, target: str, now: datetime) -> OneTimeCode | None:
    query = (
        select(OneTimeCode)
        .where(
            OneTimeCode.purpose == purpose,
            OneTimeCode.target == target,
            OneTimeCode.consumed_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .order_by(OneTimeCode.created_at.desc())
        .limit(1)
    )
    return s.scalars(query).first()


def consume_code(s: Session, code_id: str, now: datetime) -> bool:
    """Single use: true only for the call that consumed an unexpired, unconsumed code."""
    result = s.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == code_id, OneTimeCode.consumed_at.is_(None), OneTimeCode.expires_at > now)
        .values(consumed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count_code_attempt(s: Session, code_id: str, max_attempts: int, now: datetime) -> int:
    """Counts a wrong answer; the code is used up at `max_attempts`. Returns the attempts."""
    s.execute(update(OneTimeCode).where(OneTimeCode.id == code_id).values(attempts=OneTimeCode.attempts + 1))
    attempts = int(s.scalar(select(OneTimeCode.attempts).where(OneTimeCode.id == code_id)) or 0)
    if attempts >= max_attempts:
        consume_code(s, code_id, now)
    return attempts


def retire_codes(s: Session, purpose: str, now: datetime, *, user_id: str = "", target: str = "") -> None:
    """Consumes the open codes of a purpose for a user or target (a new link replaces old ones)."""
    statement = update(OneTimeCode).where(OneTimeCode.purpose == purpose, OneTimeCode.consumed_at.is_(None))
    if user_id:
        statement = statement.where(OneTimeCode.user_id == user_id)
    if target:
        statement = statement.where(OneTimeCode.target == target)
    s.execute(statement.values(consumed_at=now))


# --- audit -------------------------------------------------------------------------------------


def add_audit_event(s: Session, event: AuditEvent) -> None:
    s.add(event)
    # Written now, inside the action's transaction: a failure aborts both together.
    s.flush()


def list_audit_events(
    s: Session,
    *,
    actor_id: str,
    subject_id: str,
    action: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    before_id: int | None,
) -> list[AuditEvent]:
    """Newest first; keyset paging on the id (ids grow with time)."""
    statement = select(AuditEvent)
    if actor_id:
        statement = statement.where(AuditEvent.actor_id == actor_id)
    if subject_id:
        statement = statement.where(AuditEvent.subject_id == subject_id)
    if action.endswith("*"):
        prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(AuditEvent.action.like(prefix + "%", escape="\\"))
    elif action:
        statement = statement.where(AuditEvent.action == action)
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.at < until)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    return list(s.scalars(statement.order_by(AuditEvent.id.desc()).limit(limit)))


def json_safe(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Audit before/after as JSON: datetimes become ISO strings."""
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
