"""The identity domain's repositories (identity/domain/ports.py) over one transaction of the business
store, and the unit of work that holds them.

Rows and entities share their field names: an entity is read from its row, and `save` copies an
entity back onto the row it was read from in the same unit of work (the repository holds on to
those rows), so only the columns that changed are written, as an UPDATE of exactly those columns.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from business.audit.data import SqlAuditLog
from business.identity.data.tables import (
    BackupCodeRow,
    OAuthIdentityRow,
    OneTimeCodeRow,
    RefreshTokenRow,
    SessionRow,
    UserRow,
)
from business.identity.domain.entities import OAuthIdentity, OneTimeCode, RefreshToken, SignInSession, User
from business.identity.domain.ports import UniqueConflict
from business.shared.database import Base, escape_like

E = TypeVar("E")
R = TypeVar("R", bound=Base)


def _entity(cls: type[E], row: Base) -> E:
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def _values(entity: Any) -> dict[str, Any]:
    return {f.name: getattr(entity, f.name) for f in fields(entity)}


def _changed(result: Any) -> bool:
    """Whether a conditional UPDATE matched a row."""
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


class _Rows(Generic[R]):
    """The rows a repository read or added in its unit of work, by id: what `save` writes onto.
    (The Session's identity map holds rows weakly; an entity keeps no row alive.)"""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._rows: dict[str, R] = {}

    def keep(self, row: R) -> R:
        self._rows[row.id] = row  # type: ignore[attr-defined]
        return row

    def add(self, row: R) -> None:
        self._session.add(self.keep(row))
        self._session.flush()

    def write_back(self, entity: Any) -> None:
        """Copies `entity` onto its row (read or added in this unit of work) and writes the changes."""
        row = self._rows.get(entity.id)
        if row is None:
            raise LookupError(f"{type(entity).__name__} {entity.id!r} was not read in this unit of work")
        for name, value in _values(entity).items():
            setattr(row, name, value)
        self._session.flush()


@contextmanager
def _unique_values() -> Iterator[None]:
    try:
        yield
    except IntegrityError as error:
        raise UniqueConflict(str(error.orig)) from error


class SqlUsers:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = _Rows[UserRow](session)

    def _one(self, *conditions: Any, for_update: bool = False) -> User | None:
        query = select(UserRow).where(*conditions)
        if for_update:
            # Read afresh: a row this unit of work read before the lock may have changed since.
            query = query.with_for_update().execution_options(populate_existing=True)
        row = self._s.scalars(query).first()
        return _entity(User, self._rows.keep(row)) if row else None

    def get(self, user_id: str, *, for_update: bool = False) -> User | None:
        return self._one(UserRow.id == user_id, for_update=for_update)

    def by_email(self, email: str) -> User | None:
        return self._one(UserRow.email == email)

    def by_phone(self, phone_number: str) -> User | None:
        return self._one(UserRow.phone_number == phone_number)

    def add(self, user: User) -> None:
        with _unique_values():
            self._rows.add(UserRow(**_values(user)))

    def save(self, user: User) -> None:
        with _unique_values():
            self._rows.write_back(user)

    def claim_totp_step(self, user_id: str, step: int) -> bool:
        result = self._s.execute(
            update(UserRow)
            .where(
                UserRow.id == user_id, or_(UserRow.totp_last_step.is_(None), UserRow.totp_last_step < step)
            )
            .values(totp_last_step=step)
        )
        return _changed(result)

    def lock_active_admins(self) -> list[str]:
        query = (
            select(UserRow.id).where(UserRow.role == "admin", UserRow.status == "active").with_for_update()
        )
        return list(self._s.scalars(query))

    def newest_first(
        self, *, text: str, role: str, status: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[User]:
        statement = select(UserRow)
        if text:
            pattern = "%" + escape_like(text.lower()) + "%"
            statement = statement.where(
                or_(
                    func.lower(UserRow.email).like(pattern, escape="\\"),
                    func.lower(UserRow.display_name).like(pattern, escape="\\"),
                )
            )
        if role:
            statement = statement.where(UserRow.role == role)
        if status:
            statement = statement.where(UserRow.status == status)
        if after is not None:
            created_at, user_id = after
            statement = statement.where(
                or_(
                    UserRow.created_at < created_at,
                    (UserRow.created_at == created_at) & (UserRow.id < user_id),
                )
            )
        statement = statement.order_by(UserRow.created_at.desc(), UserRow.id.desc()).limit(limit)
        return [_entity(User, self._rows.keep(row)) for row in self._s.scalars(statement)]


class SqlSignInSessions:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._rows = _Rows[SessionRow](session)

    def get(self, session_id: str) -> SignInSession | None:
        row = self._s.get(SessionRow, session_id)
        return _entity(SignInSession, self._rows.keep(row)) if row else None

    def add(self, session: SignInSession) -> None:
        self._rows.add(SessionRow(**_values(session)))

    def save(self, session: SignInSession) -> None:
        self._rows.write_back(session)

    def active_of(self, user_id: str, now: datetime) -> list[SignInSession]:
        query = (
            select(SessionRow)
            .where(
                SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None), SessionRow.expires_at > now
            )
            .order_by(SessionRow.created_at.desc(), SessionRow.id.desc())
        )
        return [_entity(SignInSession, self._rows.keep(row)) for row in self._s.scalars(query)]

    def revoke(self, session_id: str, now: datetime, reason: str) -> bool:
        result = self._s.execute(
            update(SessionRow)
            .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return _changed(result)

    def revoke_all_of(self, user_id: str, now: datetime, reason: str, *, keep: str = "") -> list[str]:
        open_ids = self._s.scalars(
            select(SessionRow.id).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        )
        ids = [sid for sid in open_ids if sid != keep]
        if ids:
            self._s.execute(
                update(SessionRow)
                .where(SessionRow.id.in_(ids), SessionRow.revoked_at.is_(None))
                .values(revoked_at=now, revoke_reason=reason)
            )
        return ids


class SqlRefreshTokens:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, digest: str) -> RefreshToken | None:
        row = self._s.get(RefreshTokenRow, digest)
        return _entity(RefreshToken, row) if row else None

    def add(self, token: RefreshToken) -> None:
        self._s.add(RefreshTokenRow(**_values(token)))
        self._s.flush()

    def spend(self, digest: str, now: datetime, successor_digest: str, successor_sealed: str) -> bool:
        """PostgreSQL re-checks the WHERE after a concurrent spender commits; SQLite serialises
        writers (BEGIN IMMEDIATE)."""
        result = self._s.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.digest == digest, RefreshTokenRow.spent_at.is_(None))
            .values(spent_at=now, successor_digest=successor_digest, successor_sealed=successor_sealed)
        )
        if not _changed(result):
            return False
        # The token this one replaced gets no grace any more: only the immediate predecessor may.
        self._s.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.successor_digest == digest, RefreshTokenRow.successor_sealed.is_not(None))
            .values(successor_sealed=None)
        )
        return True


class SqlBackupCodes:
    def __init__(self, session: Session) -> None:
        self._s = session

    def replace(self, user_id: str, digests: Sequence[str]) -> None:
        self.delete_all(user_id)
        self._s.add_all(BackupCodeRow(user_id=user_id, digest=d) for d in digests)
        self._s.flush()

    def use(self, user_id: str, digest: str, now: datetime) -> bool:
        result = self._s.execute(
            update(BackupCodeRow)
            .where(
                BackupCodeRow.user_id == user_id,
                BackupCodeRow.digest == digest,
                BackupCodeRow.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return _changed(result)

    def delete_all(self, user_id: str) -> None:
        self._s.execute(delete(BackupCodeRow).where(BackupCodeRow.user_id == user_id))

    def remaining(self, user_id: str) -> int:
        query = select(func.count()).where(BackupCodeRow.user_id == user_id, BackupCodeRow.used_at.is_(None))
        return int(self._s.scalar(query) or 0)


class SqlOneTimeCodes:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, code: OneTimeCode) -> None:
        self._s.add(OneTimeCodeRow(**_values(code)))
        self._s.flush()

    def by_digest(self, purpose: str, digest: str) -> OneTimeCode | None:
        query = select(OneTimeCodeRow).where(
            OneTimeCodeRow.purpose == purpose, OneTimeCodeRow.digest == digest
        )
        row = self._s.scalars(query).first()
        return _entity(OneTimeCode, row) if row else None

    def latest_open(self, purpose: str, target: str, now: datetime) -> OneTimeCode | None:
        query = (
            select(OneTimeCodeRow)
            .where(
                OneTimeCodeRow.purpose == purpose,
                OneTimeCodeRow.target == target,
                OneTimeCodeRow.consumed_at.is_(None),
                OneTimeCodeRow.expires_at > now,
            )
            .order_by(OneTimeCodeRow.created_at.desc())
            .limit(1)
        )
        row = self._s.scalars(query).first()
        return _entity(OneTimeCode, row) if row else None

    def consume(self, code_id: str, now: datetime) -> bool:
        result = self._s.execute(
            update(OneTimeCodeRow)
            .where(
                OneTimeCodeRow.id == code_id,
                OneTimeCodeRow.consumed_at.is_(None),
                OneTimeCodeRow.expires_at > now,
            )
            .values(consumed_at=now)
        )
        return _changed(result)

    def count_attempt(self, code_id: str, max_attempts: int, now: datetime) -> bool:
        """PostgreSQL re-checks the WHERE after a concurrent try commits; SQLite serialises
        writers (BEGIN IMMEDIATE)."""
        result = self._s.execute(
            update(OneTimeCodeRow)
            .where(
                OneTimeCodeRow.id == code_id,
                OneTimeCodeRow.attempts < max_attempts,
                OneTimeCodeRow.consumed_at.is_(None),
                OneTimeCodeRow.expires_at > now,
            )
            .values(attempts=OneTimeCodeRow.attempts + 1)
        )
        return _changed(result)

    def retire(self, purpose: str, now: datetime, *, user_id: str = "", target: str = "") -> None:
        statement = update(OneTimeCodeRow).where(
            OneTimeCodeRow.purpose == purpose, OneTimeCodeRow.consumed_at.is_(None)
        )
        if user_id:
            statement = statement.where(OneTimeCodeRow.user_id == user_id)
        if target:
            statement = statement.where(OneTimeCodeRow.target == target)
        self._s.execute(statement.values(consumed_at=now))


class SqlOAuthIdentities:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, provider: str, subject: str) -> OAuthIdentity | None:
        row = self._s.get(OAuthIdentityRow, (provider, subject))
        return _entity(OAuthIdentity, row) if row else None

    def add(self, identity: OAuthIdentity) -> None:
        self._s.add(OAuthIdentityRow(**_values(identity)))
        self._s.flush()

    def providers_of(self, user_id: str) -> list[str]:
        return self.providers_of_each([user_id])[user_id]

    def providers_of_each(self, user_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {uid: [] for uid in user_ids}
        if user_ids:
            rows = self._s.execute(
                select(OAuthIdentityRow.user_id, OAuthIdentityRow.provider)
                .where(OAuthIdentityRow.user_id.in_(user_ids))
                .order_by(OAuthIdentityRow.provider)
            )
            for user_id, provider in rows:
                found[user_id].append(provider)
        return found

    def remove(self, user_id: str, provider: str) -> int:
        result = self._s.execute(
            delete(OAuthIdentityRow).where(
                OAuthIdentityRow.user_id == user_id, OAuthIdentityRow.provider == provider
            )
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount)


class SqlIdentityUnitOfWork:
    """Identity's repositories (and the audit log) over one transaction's Session."""

    def __init__(self, session: Session) -> None:
        self.users = SqlUsers(session)
        self.sign_in_sessions = SqlSignInSessions(session)
        self.refresh_tokens = SqlRefreshTokens(session)
        self.backup_codes = SqlBackupCodes(session)
        self.one_time_codes = SqlOneTimeCodes(session)
        self.oauth_identities = SqlOAuthIdentities(session)
        self.audit = SqlAuditLog(session)
