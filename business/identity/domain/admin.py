"""The admin panel: accounts and the audit log. Every change is audited with its before and
after, and the platform always keeps at least one active admin."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from business.audit import domain as audit
from business.audit.domain import AuditEvent, AuditQuery, Client
from business.identity.domain import paging
from business.identity.domain.accounts import Account, account_of
from business.identity.domain.context import ADMIN_CLI, Identity
from business.identity.domain.entities import (
    ACTIVE,
    ADMIN,
    INSTRUCTOR,
    PLANS,
    PROFILE_FIELDS,
    SUSPENDED,
    USER,
    User,
)
from business.identity.domain.ownership import BY_ADMIN_CLI, claim_unproven_account
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.validation import require_text
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

ROLES = frozenset({USER, ADMIN, INSTRUCTOR})
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


def _users_after(page_token: str) -> tuple[datetime, str] | None:
    """The (created_at, id) key a users page token carries."""
    key = paging.decode(page_token)
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key["t"])), str(key["i"])
    except (KeyError, ValueError):
        raise InvalidArgument.field("page_token", "is not a token this API issued") from None


async def list_users(identity: Identity, f: UserFilter) -> Page[Account]:
    if len(f.query) > 254:
        raise InvalidArgument.field("query", "must be at most 254 characters")
    size = paging.page_size(f.page_size, default=50, maximum=200)
    after = _users_after(f.page_token)

    def work(uow: IdentityUnitOfWork) -> Page[Account]:
        users = uow.users.newest_first(
            text=f.query.strip(), role=f.role, status=f.status, limit=size + 1, after=after
        )
        more = len(users) > size
        users = users[:size]
        providers = uow.oauth_identities.providers_of_each([u.id for u in users])
        token = paging.encode({"t": users[-1].created_at.isoformat(), "i": users[-1].id}) if more else ""
        return Page([Account(u, providers[u.id]) for u in users], token)

    return await identity.transactions.run(work)


def _guard_last_admin(uow: IdentityUnitOfWork, user_id: str) -> None:
    """Refuses a change that would leave no active admin. The admins' rows are locked first,
    so two admins demoting each other at once cannot both pass."""
    if uow.users.lock_active_admins() == [user_id]:
        raise FailedPrecondition(LAST_ADMIN)


def _target(uow: IdentityUnitOfWork, user_id: str) -> User:
    user = uow.users.get(user_id, for_update=True)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def set_role(identity: Identity, actor_id: str, user_id: str, role: str, client: Client) -> Account:
    user_id = require_text(user_id, "user_id", 36)
    if role not in ROLES:
        raise InvalidArgument.field("role", "must be ROLE_USER, ROLE_ADMIN or ROLE_INSTRUCTOR")

    def keep_an_admin(uow: IdentityUnitOfWork, user: User) -> None:
        if user.role == ADMIN and role != ADMIN and user.is_active:
            _guard_last_admin(uow, user.id)

    change = ClaimChange("role", role, "admin.user.role_changed", keep_an_admin)
    return await _change_claim(identity, actor_id, user_id, change, client)


async def set_plan(identity: Identity, actor_id: str, user_id: str, plan: str, client: Client) -> Account:
    """Until billing changes plans, an admin does (audited)."""
    user_id = require_text(user_id, "user_id", 36)
    if plan not in PLANS:
        raise InvalidArgument.field("plan", f"must be one of {', '.join(PLANS)}")
    change = ClaimChange("plan", plan, "admin.user.plan_changed")
    return await _change_claim(identity, actor_id, user_id, change, client)


@dataclass(frozen=True)
class ClaimChange:
    """An admin's change to a user field that access tokens carry (role, plan)."""

    attribute: str
    value: str
    action: str
    check: Callable[[IdentityUnitOfWork, User], None] = lambda uow, user: None


async def _change_claim(
    identity: Identity, actor_id: str, user_id: str, change: ClaimChange, client: Client
) -> Account:
    """Applies and audits `change`; tokens issued before it carry the old value, so they are
    revoked, even when the value was already in place: the call may be the retry of one that
    stored the change and then failed to revoke (the revocation store was down), and revoking
    again is harmless (idempotent; the user refreshes)."""

    def work(uow: IdentityUnitOfWork) -> Account:
        user = _target(uow, user_id)
        change.check(uow, user)
        before = audit.snapshot(user, (change.attribute,))
        changed = getattr(user, change.attribute) != change.value
        if changed:
            setattr(user, change.attribute, change.value)
            user.updated_at = identity.now()
            uow.users.save(user)
        identity.record(
            uow,
            change.action,
            client,
            actor_id=actor_id,
            subject_id=user.id,
            before=before,
            after={change.attribute: change.value},
            detail={"changed": changed},
        )
        return account_of(uow, user)

    account = await identity.transactions.run(work)
    await identity.revocations.revoke_subject(user_id)
    return account


async def suspend_user(
    identity: Identity, actor_id: str, user_id: str, suspended: bool, reason: str, client: Client
) -> Account:
    user_id = require_text(user_id, "user_id", 36)
    reason = reason.strip()
    if len(reason) > 500:
        raise InvalidArgument.field("reason", "must be at most 500 characters")

    def work(uow: IdentityUnitOfWork) -> tuple[Account, list[str]]:
        user = _target(uow, user_id)
        if suspended and user.role == ADMIN and user.is_active:
            _guard_last_admin(uow, user.id)
        before = audit.snapshot(user, ("status", "suspended_reason"))
        now = identity.now()
        ended: list[str] = []
        user.status = SUSPENDED if suspended else ACTIVE
        user.suspended_reason = (reason or None) if suspended else None
        user.updated_at = now
        uow.users.save(user)
        if suspended:
            ended = uow.sign_in_sessions.revoke_all_of(user.id, now, "suspended")
        identity.record(
            uow,
            "admin.user.suspended" if suspended else "admin.user.reinstated",
            client,
            actor_id=actor_id,
            subject_id=user.id,
            before=before,
            after=audit.snapshot(user, ("status", "suspended_reason")),
            detail={"sessions_ended": len(ended)},
        )
        return account_of(uow, user), ended

    account, ended = await identity.transactions.run(work)
    if suspended:
        await identity.revocations.revoke_subject(user_id)
        for session_id in ended:
            await identity.revocations.revoke_session(session_id)
    return account


def ensure_admin(
    uow: IdentityUnitOfWork, now: datetime, email: str, password_hash: str, display_name: str
) -> tuple[str, bool]:
    """The first admin (the admin command line): creates an active, verified admin, or makes the
    account with this email one, its password set too. Returns (user id, created); audited as
    done by "system". A promoted account's access tokens issued until now must then be revoked
    (`Revocations.revoke_subject`): they were handed out before it became an admin."""
    found = uow.users.by_email(email)
    before: audit.Values = {}
    detail: audit.Values | None = None
    if found is None:
        user = User(
            id=str(uuid.uuid4()), email=email, display_name=display_name, created_at=now, updated_at=now
        )
    else:
        user = _target(uow, found.id)
        before = audit.snapshot(user, PROFILE_FIELDS)
        detail = {"sessions_ended": _end_prior_access(uow, now, user)}
    user.password_hash = password_hash
    user.email_verified = True
    user.role = ADMIN
    user.status = ACTIVE
    user.suspended_reason = None
    if display_name:
        user.display_name = display_name
    user.updated_at = now
    if found is None:
        uow.users.add(user)
    else:
        uow.users.save(user)
    old, new = audit.changes(before, audit.snapshot(user, PROFILE_FIELDS))
    audit.record(
        uow.audit,
        now,
        "admin.cli.admin_created" if found is None else "admin.cli.admin_promoted",
        ADMIN_CLI,
        actor_id="system",
        subject_id=user.id,
        before=old or None,
        after=new,
        detail=detail,
    )
    return user.id, found is None


def _end_prior_access(uow: IdentityUnitOfWork, now: datetime, user: User) -> int:
    """Before an existing account becomes an admin: every session it had ends (whoever held one
    must not refresh into an admin token). If nobody had proven its address, whoever registered it
    also loses what they set up (claim_unproven_account): whoever runs the command line vouches
    for the address. Returns the sessions ended."""
    ended: list[str] = []
    if not user.email_verified:
        ended = claim_unproven_account(uow, now, user, ADMIN_CLI, proof=BY_ADMIN_CLI, actor_id="system")
    ended += uow.sign_in_sessions.revoke_all_of(user.id, now, "promoted_to_admin")
    return len(ended)


@dataclass(frozen=True)
class AuditFilter:
    query: AuditQuery = field(default_factory=AuditQuery)
    page_size: int = 0
    page_token: str = ""


def _events_before(page_token: str) -> int | None:
    """The id an audit page token carries: the next page holds older events."""
    key = paging.decode(page_token)
    if key is None:
        return None
    value = key.get("i")
    if not isinstance(value, int):
        raise InvalidArgument.field("page_token", "is not a token this API issued")
    return value


async def list_audit_events(identity: Identity, f: AuditFilter) -> Page[AuditEvent]:
    query = f.query
    for name, text in (
        ("actor_id", query.actor_id),
        ("subject_id", query.subject_id),
        ("action", query.action),
    ):
        if len(text) > 64:
            raise InvalidArgument.field(name, "must be at most 64 characters")
    if query.since and query.until and query.since >= query.until:
        raise InvalidArgument.field("until", "must be after since")
    size = paging.page_size(f.page_size, default=100, maximum=500)
    before_id = _events_before(f.page_token)

    def work(uow: IdentityUnitOfWork) -> Page[AuditEvent]:
        events = uow.audit.newest_first(query, limit=size + 1, before_id=before_id)
        more = len(events) > size
        events = events[:size]
        return Page(events, paging.encode({"i": events[-1].id}) if more else "")

    return await identity.transactions.run(work)
