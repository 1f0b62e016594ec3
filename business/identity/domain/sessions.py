"""Sessions (refresh token families), token pairs, refresh rotation with reuse detection,
logout and the user's own session list.

Rotation and concurrent refreshes: every refresh spends the presented token and issues its
successor. Two tabs often refresh the same token at once; the one that loses the race (or
arrives just after) would present a spent token, which otherwise means theft. So for
`refresh_grace_s` seconds after the spend, the token just spent yields its successor again
(the SAME refresh token, and an access token for the same session), provided the successor is
still unspent (only the immediate predecessor of the live token qualifies), the session open
and the user active. To give the successor back without keeping it in clear, the spend stores
it sealed under a key derived from the spent token itself (`seal_for_holder`) and then under
the server's key (`identity.secrets`): the database alone (digests only) opens nothing. The
sealed copy is dropped when the successor is spent in turn. After the window, or for an older
token, presenting a spent token is reuse: the family is revoked."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from business.audit import domain as audit
from business.audit.domain import Client
from business.identity.domain.context import Identity
from business.identity.domain.entities import RefreshToken, SignInSession, User
from business.identity.domain.one_time_secrets import (
    digest,
    new_opaque_token,
    open_for_holder,
    seal_for_holder,
)
from business.identity.domain.ports import IdentityUnitOfWork
from service_runtime.errors import DependencyUnavailable, InvalidArgument, NotFound, Unauthenticated

log = logging.getLogger("business.identity")

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


def _add_refresh_token(uow: IdentityUnitOfWork, session: SignInSession, token: str) -> None:
    """Stores `token` as the session's newest refresh token; it expires with the session (a
    session lives as long as its newest refresh token)."""
    uow.refresh_tokens.add(
        RefreshToken(
            digest=digest(token),
            session_id=session.id,
            issued_at=session.last_used_at,
            expires_at=session.expires_at,
        )
    )


def _issue_refresh(uow: IdentityUnitOfWork, identity: Identity, session: SignInSession, token: str) -> None:
    """Extends an open session by a refresh token's lifetime from now, `token` its newest."""
    now = identity.now()
    session.expires_at = now + timedelta(seconds=identity.policy.refresh_ttl_s)
    session.last_used_at = now
    _add_refresh_token(uow, session, token)
    uow.sign_in_sessions.save(session)


def _pair(
    identity: Identity, user: User, session_id: str, refresh_token: str, refresh_expires_in: int | None = None
) -> TokenPair:
    access = identity.tokens.issue(
        user_id=user.id, role=user.role, plan=user.plan, session_id=session_id, now=identity.now().timestamp()
    )
    if refresh_expires_in is None:
        refresh_expires_in = identity.policy.refresh_ttl_s
    return TokenPair(access, identity.tokens.ttl_s, refresh_token, refresh_expires_in, session_id)


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
        # Written once with its first refresh token's expiry, not inserted then updated.
        expires_at=now + timedelta(seconds=identity.policy.refresh_ttl_s),
    )
    uow.sign_in_sessions.add(session)  # the session before its refresh token
    refresh = new_opaque_token()
    _add_refresh_token(uow, session, refresh)
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


async def revoke_ahead(identity: Identity, session_ids: Iterable[str]) -> frozenset[str]:
    """Revokes the access tokens of sessions a change is about to end, BEFORE the change commits:
    with the revocation store down the change fails as UNAVAILABLE with nothing stored, and a
    retry revokes them. Revoked only after the commit, a failure there left those tokens valid for
    their lifetime, with nothing left for a retry to end. If the change then fails, the sessions
    revoked ahead have lost their access tokens, which is what their holder asked for."""
    revoked = frozenset(session_ids)
    for session_id in revoked:
        await identity.revocations.revoke_session(session_id)
    return revoked


async def revoke_open_sessions_ahead(identity: Identity, user_id: str, *, keep: str = "") -> frozenset[str]:
    """`revoke_ahead` for every open session of the user but `keep`."""
    open_ids = await identity.transactions.run(
        lambda uow: [s.id for s in uow.sign_in_sessions.active_of(user_id, identity.now())]
    )
    return await revoke_ahead(identity, (session_id for session_id in open_ids if session_id != keep))


async def revoke_the_rest(identity: Identity, ended: Iterable[str], revoked: frozenset[str]) -> None:
    """After the commit: sessions the change ended that were not revoked ahead (opened while it
    ran). Best effort: the change is stored, and failing the call now would only hide that."""
    for session_id in ended:
        if session_id in revoked:
            continue
        try:
            await identity.revocations.revoke_session(session_id)
        except DependencyUnavailable as down:
            log.warning("session %s ended; revoking its access tokens failed: %s", session_id, down)


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


def _seal(identity: Identity, presented: str, successor: str) -> str:
    return identity.secrets.encrypt(seal_for_holder(presented, successor))


def _unseal(identity: Identity, presented: str, sealed: str) -> str | None:
    try:
        inner = identity.secrets.decrypt(sealed)
    except ValueError:
        return None
    return open_for_holder(presented, inner)


def _rotate(
    uow: IdentityUnitOfWork, identity: Identity, presented: str, found: _Presented, client: Client
) -> TokenPair | None:
    """Spends the token and issues its successor; None when a concurrent refresh spent it first
    (or the session ended meanwhile)."""
    session = uow.sign_in_sessions.get(found.session.id)
    user = uow.users.get(found.user.id)
    if session is None or user is None or session.revoked_at is not None or not user.is_active:
        return None
    new_token = new_opaque_token()
    sealed = _seal(identity, presented, new_token)
    if not uow.refresh_tokens.spend(found.token.digest, identity.now(), digest(new_token), sealed):
        return None
    _issue_refresh(uow, identity, session, new_token)
    identity.record(
        uow,
        "auth.refresh.succeeded",
        client,
        actor_id=user.id,
        subject_id=user.id,
        detail={"session_id": session.id},
    )
    return _pair(identity, user, session.id, new_token)


def _within_grace(identity: Identity, spent_at: datetime | None) -> bool:
    grace = identity.policy.refresh_grace_s
    return grace > 0 and spent_at is not None and identity.now() - spent_at <= timedelta(seconds=grace)


def _again(
    uow: IdentityUnitOfWork, identity: Identity, presented: str, found: _Presented, client: Client
) -> TokenPair | None:
    """The successor of a token spent moments ago, for a concurrent refresh of the same token
    (see the module's docstring); None when the grace does not apply (then it is reuse)."""
    spent = uow.refresh_tokens.get(found.token.digest)
    if spent is None or not spent.successor_digest or not spent.successor_sealed:
        return None
    if not _within_grace(identity, spent.spent_at):
        return None
    successor = uow.refresh_tokens.get(spent.successor_digest)
    now = identity.now()
    if successor is None or successor.spent_at is not None or successor.expires_at <= now:
        return None
    session = uow.sign_in_sessions.get(found.session.id)
    user = uow.users.get(found.user.id)
    if session is None or user is None or session.revoked_at is not None or not user.is_active:
        return None
    token = _unseal(identity, presented, spent.successor_sealed)
    if token is None or digest(token) != successor.digest:
        return None
    identity.record(
        uow,
        "auth.refresh.succeeded",
        client,
        actor_id=user.id,
        subject_id=user.id,
        detail={"session_id": session.id, "concurrent": True},
    )
    return _pair(identity, user, session.id, token, int((successor.expires_at - now).total_seconds()))


async def _spent_presented(
    identity: Identity, presented: str, found: _Presented, client: Client
) -> TokenPair:
    """A spent token: its successor again within the grace window, otherwise reuse."""
    pair = await identity.transactions.run(lambda uow: _again(uow, identity, presented, found, client))
    if pair is not None:
        return pair
    await _revoke_family(identity, found, client)
    raise Unauthenticated(INVALID_REFRESH)


async def _attempt(
    identity: Identity, presented: str, token_digest: str, client: Client
) -> tuple[TokenPair | None, _Presented]:
    """One try: the pair, or None with the token as read when a concurrent refresh won the spend."""
    found = await identity.transactions.run(lambda uow: _presented(uow, token_digest))
    if found is None:
        await identity.record_failure("auth.refresh.failed", client, detail={"reason": "unknown_token"})
        raise Unauthenticated(INVALID_REFRESH)
    if found.token.spent_at is not None:
        return await _spent_presented(identity, presented, found, client), found
    reason = _refusal(found, identity)
    if reason:
        await identity.record_failure(
            "auth.refresh.failed",
            client,
            subject_id=found.user.id,
            detail={"reason": reason, "session_id": found.session.id},
        )
        raise Unauthenticated(INVALID_REFRESH)
    return await identity.transactions.run(
        lambda uow: _rotate(uow, identity, presented, found, client)
    ), found


async def refresh(identity: Identity, refresh_token: str, client: Client) -> TokenPair:
    token_digest = _token_digest(refresh_token)
    presented = refresh_token.strip()
    # Read first, outside the write. A refresh that loses the conditional spend to a concurrent
    # one reads again: the winner has committed by then, and the grace path answers it.
    pair, found = await _attempt(identity, presented, token_digest, client)
    if pair is None:
        pair, found = await _attempt(identity, presented, token_digest, client)
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

    def own_open_session(uow: IdentityUnitOfWork) -> bool:
        session = uow.sign_in_sessions.get(session_id)
        # Another user's session is answered like a missing one: ids reveal nothing.
        return session is not None and session.user_id == user_id and session.revoked_at is None

    def work(uow: IdentityUnitOfWork) -> bool:
        if not own_open_session(uow) or not uow.sign_in_sessions.revoke(
            session_id, identity.now(), "revoked_by_user"
        ):
            return False
        identity.record(
            uow,
            "user.session.revoked",
            client,
            actor_id=user_id,
            subject_id=user_id,
            detail={"session_id": session_id},
        )
        return True

    if not await identity.transactions.run(own_open_session):
        raise NotFound(f"no active session {session_id}")
    # Ahead of the commit: a retry after the revocation store failed would find the session ended.
    await revoke_ahead(identity, [session_id])
    if not await identity.transactions.run(work):
        raise NotFound(f"no active session {session_id}")
