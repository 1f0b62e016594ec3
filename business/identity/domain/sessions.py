"""Sessions (refresh token families), token pairs, refresh rotation with reuse detection,
logout and the user's own session list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from business.audit import domain as audit
from business.audit.domain import Client
from business.identity.domain.context import Identity
from business.identity.domain.entities import RefreshToken, SignInSession, User
from business.identity.domain.one_time_secrets import digest, new_opaque_token
from business.identity.domain.ports import IdentityUnitOfWork
from service_runtime.errors import InvalidArgument, NotFound, Unauthenticated

MAX_TOKEN_LENGTH = 512
INVALID_REFRESH = "invalid or expired refresh token"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str


@dataclass(frozen=True)
class Challenge:
    """A sign-in that still needs a second factor."""

    token: str
    expires_in: int
    methods: tuple[str, ...] = ("totp", "backup_code")


SignInResult = TokenPair | Challenge


def _issue_refresh(uow: IdentityUnitOfWork, identity: Identity, session: SignInSession) -> str:
    now = identity.now()
    token = new_opaque_token()
    expires_at = now + timedelta(seconds=identity.policy.refresh_ttl_s)
    uow.refresh_tokens.add(
        RefreshToken(digest=digest(token), session_id=session.id, issued_at=now, expires_at=expires_at)
    )
    # A session lives as long as its newest refresh token.
    session.expires_at = expires_at
    session.last_used_at = now
    uow.sign_in_sessions.save(session)
    return token


def _pair(identity: Identity, user: User, session_id: str, refresh_token: str) -> TokenPair:
    access = identity.tokens.issue(
        user_id=user.id, role=user.role, plan=user.plan, session_id=session_id, now=identity.now().timestamp()
    )
    return TokenPair(access, identity.tokens.ttl_s, refresh_token, identity.policy.refresh_ttl_s, session_id)


def open_session(
    uow: IdentityUnitOfWork, identity: Identity, user: User, method: str, client: Client
) -> TokenPair:
    """A completed sign-in, inside the caller's unit of work (which also holds its audit entry)."""
    now = identity.now()
    session = SignInSession(
        id=str(uuid.uuid4()),
        user_id=user.id,
        method=method[:32],
        ip=client.ip[:64],
        user_agent=client.user_agent[:300],
        created_at=now,
        last_used_at=now,
        expires_at=now,
    )
    uow.sign_in_sessions.add(session)  # the session before its refresh token
    refresh = _issue_refresh(uow, identity, session)
    user.last_login_at = now
    uow.users.save(user)
    identity.record(
        uow,
        "auth.login.succeeded",
        client,
        actor_id=user.id,
        subject_id=user.id,
        detail={"method": method, "session_id": session.id},
    )
    return _pair(identity, user, session.id, refresh)


def _token_digest(refresh_token: str) -> str:
    token = refresh_token.strip()
    if not token:
        raise InvalidArgument.field("refresh_token", "is required")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidArgument.field("refresh_token", f"must be at most {MAX_TOKEN_LENGTH} characters")
    return digest(token)


@dataclass(frozen=True)
class _Presented:
    """A refresh token as presented: the token, its session and its user."""

    token: RefreshToken
    session: SignInSession
    user: User


def _presented(uow: IdentityUnitOfWork, token_digest: str) -> _Presented | None:
    token = uow.refresh_tokens.get(token_digest)
    if token is None:
        return None
    session = uow.sign_in_sessions.get(token.session_id)
    user = uow.users.get(session.user_id) if session else None
    if session is None or user is None:
        return None
    return _Presented(token, session, user)


async def _revoke_family(identity: Identity, found: _Presented, client: Client) -> None:
    def work(uow: IdentityUnitOfWork) -> None:
        uow.sign_in_sessions.revoke(found.session.id, identity.now(), "refresh_reuse")
        identity.record(
            uow,
            "auth.refresh.reuse_detected",
            client,
            outcome=audit.FAILED,
            subject_id=found.user.id,
            detail={"session_id": found.session.id},
        )

    await identity.transactions.run(work)
    await identity.revocations.revoke_session(found.session.id)


def _refusal(found: _Presented, identity: Identity) -> str:
    """Why a presented, unspent token may not be rotated ("" when it may)."""
    if found.session.revoked_at is not None:
        return "session_revoked"
    if found.token.expires_at <= identity.now():
        return "expired"
    if not found.user.is_active:
        return "suspended"
    return ""


def _rotate(
    uow: IdentityUnitOfWork, identity: Identity, token_digest: str, found: _Presented, client: Client
) -> TokenPair | None:
    """Spends the token and issues its successor; None when a concurrent refresh spent it first
    (or the session ended meanwhile)."""
    if not uow.refresh_tokens.spend(token_digest, identity.now()):
        return None
    session = uow.sign_in_sessions.get(found.session.id)
    user = uow.users.get(found.user.id)
    if session is None or user is None or session.revoked_at is not None or not user.is_active:
        return None
    new_token = _issue_refresh(uow, identity, session)
    identity.record(
        uow,
        "auth.refresh.succeeded",
        client,
        actor_id=user.id,
        subject_id=user.id,
        detail={"session_id": session.id},
    )
    return _pair(identity, user, session.id, new_token)


async def refresh(identity: Identity, refresh_token: str, client: Client) -> TokenPair:
    token_digest = _token_digest(refresh_token)
    # Read first, outside the write: a token already spent when we first look is a replay
    # (reuse); one still unspent that loses the conditional spend below lost a race with a
    # concurrent refresh of the same token, and only that request is refused.
    found = await identity.transactions.run(lambda uow: _presented(uow, token_digest))
    if found is None:
        await identity.record_failure("auth.refresh.failed", client, detail={"reason": "unknown_token"})
        raise Unauthenticated(INVALID_REFRESH)
    if found.token.spent_at is not None:
        await _revoke_family(identity, found, client)
        raise Unauthenticated(INVALID_REFRESH)
    reason = _refusal(found, identity)
    if reason:
        await identity.record_failure(
            "auth.refresh.failed",
            client,
            subject_id=found.user.id,
            detail={"reason": reason, "session_id": found.session.id},
        )
        raise Unauthenticated(INVALID_REFRESH)
    pair = await identity.transactions.run(lambda uow: _rotate(uow, identity, token_digest, found, client))
    if pair is None:
        await identity.record_failure(
            "auth.refresh.failed",
            client,
            subject_id=found.user.id,
            detail={"reason": "concurrent_refresh", "session_id": found.session.id},
        )
        raise Unauthenticated(INVALID_REFRESH)
    return pair


async def logout(identity: Identity, refresh_token: str, client: Client) -> None:
    token_digest = _token_digest(refresh_token)
    found = await identity.transactions.run(lambda uow: _presented(uow, token_digest))
    if found is None:
        await identity.record_failure("auth.logout.failed", client, detail={"reason": "unknown_token"})
        raise Unauthenticated(INVALID_REFRESH)

    def work(uow: IdentityUnitOfWork) -> None:
        if uow.sign_in_sessions.revoke(found.session.id, identity.now(), "logout"):
            identity.record(
                uow,
                "auth.logout",
                client,
                actor_id=found.user.id,
                subject_id=found.user.id,
                detail={"session_id": found.session.id},
            )

    await identity.transactions.run(work)
    await identity.revocations.revoke_session(found.session.id)


async def list_sessions(identity: Identity, user_id: str) -> list[SignInSession]:
    return await identity.transactions.run(
        lambda uow: uow.sign_in_sessions.active_of(user_id, identity.now())
    )


async def revoke_own_session(identity: Identity, user_id: str, session_id: str, client: Client) -> None:
    session_id = session_id.strip()
    if not session_id:
        raise InvalidArgument.field("session_id", "is required")
    if len(session_id) > 36:
        raise InvalidArgument.field("session_id", "must be at most 36 characters")

    def work(uow: IdentityUnitOfWork) -> bool:
        session = uow.sign_in_sessions.get(session_id)
        # Another user's session is answered like a missing one: ids reveal nothing.
        if session is None or session.user_id != user_id or session.revoked_at is not None:
            return False
        uow.sign_in_sessions.revoke(session_id, identity.now(), "revoked_by_user")
        identity.record(
            uow,
            "user.session.revoked",
            client,
            actor_id=user_id,
            subject_id=user_id,
            detail={"session_id": session_id},
        )
        return True

    if not await identity.transactions.run(work):
        raise NotFound(f"no active session {session_id}")
    await identity.revocations.revoke_session(session_id)
