"""The admin panel: accounts and the audit log. Every change is audited with its before and
after, and the platform always keeps at least one active admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from business.identity.data import repositories as repo
from business.identity.data.tables import AuditEvent, OAuthIdentity
from business.identity.domain import audit, paging
from business.identity.domain.accounts import Account
from business.identity.domain.context import Client, Identity
from business.identity.domain.validation import require_text
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

ROLES = frozenset({"user", "admin"})
STATUSES = frozenset({"active", "suspended"})
LAST_ADMIN = "the platform needs at least one active admin"
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


@dataclass(frozen=True)
class UserFilter:
    query: str = ""
    role: str = ""
    status: str = ""
    page_size: int = 0
    page_token: str = ""


def _providers(s: Session, user_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {uid: [] for uid in user_ids}
    if user_ids:
        rows = s.execute(
            select(OAuthIdentity.user_id, OAuthIdentity.provider)
            .where(OAuthIdentity.user_id.in_(user_ids))
            .order_by(OAuthIdentity.provider)
        )
        for user_id, provider in rows:
            found[user_id].append(provider)
    return found


async def list_users(identity: Identity, f: UserFilter) -> Page[Account]:
    if len(f.query) > 254:
        raise InvalidArgument.field("query", "must be at most 254 characters")
    size = paging.page_size(f.page_size, default=50, maximum=200)
    key = paging.decode(f.page_token)
    after: tuple[datetime, str] | None = None
    if key is not None:
        try:
            after = (datetime.fromisoformat(str(key["t"])), str(key["i"]))
        except (KeyError, ValueError):
            raise InvalidArgument.field("page_token", "is not a token this API issued") from None

    def work(s: Session) -> Page[Account]:
        users = repo.list_users(
            s, query=f.query.strip(), role=f.role, status=f.status, limit=size + 1, after=after
        )
        more = len(users) > size
        users = users[:size]
        providers = _providers(s, [u.id for u in users])
        token = paging.encode({"t": users[-1].created_at.isoformat(), "i": users[-1].id}) if more else ""
        return Page([Account(u, providers[u.id]) for u in users], token)

    return await identity.db.run(work)


def _guard_last_admin(s: Session, user_id: str) -> None:
    """Refuses a change that would leave no active admin. The admins' rows are locked first,
    so two admins demoting each other at once cannot both pass."""
    admins = repo.lock_active_admins(s)
    if admins == [user_id]:
        raise FailedPrecondition(LAST_ADMIN)


async def set_role(identity: Identity, actor_id: str, user_id: str, role: str, client: Client) -> Account:
    user_id = require_text(user_id, "user_id", 36)
    if role not in ROLES:
        raise InvalidArgument.field("role", "must be ROLE_USER or ROLE_ADMIN")

    def work(s: Session) -> tuple[Account, bool]:
        user = repo.get_user(s, user_id, lock=True)
        if user is None:
            raise NotFound(f"no user {user_id}")
        if user.role == "admin" and role != "admin" and user.status == "active":
            _guard_last_admin(s, user.id)
        before = audit.snapshot(user, ("role",))
        changed = user.role != role
        user.role = role
        if changed:
            user.updated_at = identity.now()
        audit.record(
            s,
            identity,
            "admin.user.role_changed",
            client,
            actor_id=actor_id,
            subject_id=user.id,
            before=before,
            after={"role": role},
            detail={"changed": changed},
        )
        return Account(user, repo.linked_providers(s, user.id)), changed

    account, changed = await identity.db.run(work)
    if changed:
        # Tokens carry the role: those issued before the change must not keep the old one.
        await identity.revocations.revoke_subject(user_id)
    return account


async def suspend_user(
    identity: Identity, actor_id: str, user_id: str, suspended: bool, reason: str, client: Client
) -> Account:
    user_id = require_text(user_id, "user_id", 36)
    reason = reason.strip()
    if len(reason) > 500:
        raise InvalidArgument.field("reason", "must be at most 500 characters")

    def work(s: Session) -> tuple[Account, list[str]]:
        user = repo.get_user(s, user_id, lock=True)
        if user is None:
            raise NotFound(f"no user {user_id}")
        if suspended and user.role == "admin" and user.status == "active":
            _guard_last_admin(s, user.id)
        before = audit.snapshot(user, ("status", "suspended_reason"))
        now = identity.now()
        ended: list[str] = []
        user.status = "suspended" if suspended else "active"
        user.suspended_reason = (reason or None) if suspended else None
        user.updated_at = now
        if suspended:
            ended = repo.revoke_user_sessions(s, user.id, now, "suspended")
        audit.record(
            s,
            identity,
            "admin.user.suspended" if suspended else "admin.user.reinstated",
            client,
            actor_id=actor_id,
            subject_id=user.id,
            before=before,
            after=audit.snapshot(user, ("status", "suspended_reason")),
            detail={"sessions_ended": len(ended)},
        )
        return Account(user, repo.linked_providers(s, user.id)), ended

    account, ended = await identity.db.run(work)
    if suspended:
        await identity.revocations.revoke_subject(user_id)
        for session_id in ended:
            await identity.revocations.revoke_session(session_id)
    return account


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str = ""
    subject_id: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page_size: int = 0
    page_token: str = ""


async def list_audit_events(identity: Identity, f: AuditFilter) -> Page[AuditEvent]:
    for name, text in (("actor_id", f.actor_id), ("subject_id", f.subject_id), ("action", f.action)):
        if len(text) > 64:
            raise InvalidArgument.field(name, "must be at most 64 characters")
    if f.since and f.until and f.since >= f.until:
        raise InvalidArgument.field("until", "must be after since")
    size = paging.page_size(f.page_size, default=100, maximum=500)
    key = paging.decode(f.page_token)
    before_id = None
    if key is not None:
        value = key.get("i")
        if not isinstance(value, int):
            raise InvalidArgument.field("page_token", "is not a token this API issued")
        before_id = value

    def work(s: Session) -> Page[AuditEvent]:
        events = repo.list_audit_events(
            s,
            actor_id=f.actor_id,
            subject_id=f.subject_id,
            action=f.action,
            since=f.since,
            until=f.until,
            limit=size + 1,
            before_id=before_id,
        )
        more = len(events) > size
        events = events[:size]
        return Page(events, paging.encode({"i": events[-1].id}) if more else "")

    return await identity.db.run(work)
