"""Sign-in, refresh rotation with reuse detection, concurrent refreshes, logout."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import jwt
import pytest

from business.identity.data.repositories import SqlIdentityUnitOfWork
from business.identity.domain import accounts, admin, sessions
from business.identity.domain.context import Identity
from business.identity.domain.one_time_secrets import digest, open_for_holder
from business.identity.domain.sessions import TokenPair
from business.shared.database import BusinessStore
from service_runtime.caller import Caller
from service_runtime.errors import DependencyUnavailable, InvalidArgument, NotFound, Unauthenticated
from service_runtime.signing_keys import SigningKeyStore
from tests.business.identity.conftest import CLIENT, PASSWORD, Clock, new_email
from tests.business.identity.helpers import (
    RevocationsDownOnce,
    audit_actions,
    make_admin,
    registered,
    signed_in,
)


async def test_login_issues_an_eddsa_token_with_the_platform_claims(
    identity: Identity, keys: SigningKeyStore
) -> None:
    user, pair = await signed_in(identity)
    header = jwt.get_unverified_header(pair.access_token)
    assert header["alg"] == "EdDSA" and header["kid"] in keys.public_keys()
    claims = jwt.decode(
        pair.access_token,
        keys.public_keys()[header["kid"]],
        algorithms=["EdDSA"],
        audience="trading-api",
        issuer="trading-platform",
    )
    assert claims["sub"] == user.id and claims["roles"] == ["user"] and claims["plan"] == "free"
    assert claims["sid"] == pair.session_id and claims["exp"] - int(claims["iat"]) == 900
    assert {"jti", "nbf", "iat"} <= claims.keys()
    assert pair.refresh_expires_in == 7 * 24 * 3600
    stored = identity.transactions.run_sync(lambda uow: uow.refresh_tokens.get(digest(pair.refresh_token)))
    assert stored is not None, "the database keeps the digest, never the token"
    assert "auth.login.succeeded" in audit_actions(identity, user.id)
    last_login = identity.transactions.run_sync(lambda uow: uow.users.get(user.id))
    assert last_login is not None and last_login.last_login_at is not None


async def test_wrong_password_and_unknown_email_get_the_same_refusal(identity: Identity) -> None:
    user = await registered(identity)
    with pytest.raises(Unauthenticated) as wrong:
        await accounts.login(identity, user.email, "not the password at all", CLIENT)
    with pytest.raises(Unauthenticated) as unknown:
        await accounts.login(identity, new_email(), PASSWORD, CLIENT)
    assert wrong.value.message == unknown.value.message == "invalid email or password"
    assert audit_actions(identity, user.id).count("auth.login.failed") == 1


async def test_suspended_user_cannot_log_in_or_refresh(identity: Identity) -> None:
    user, pair = await signed_in(identity)
    other, _ = await signed_in(identity)
    make_admin(identity, other.id)
    await admin.suspend_user(identity, other.id, user.id, True, "fraud", CLIENT)
    with pytest.raises(Unauthenticated, match="invalid email or password"):
        await accounts.login(identity, user.email, PASSWORD, CLIENT)
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, pair.refresh_token, CLIENT)
    caller = Caller(user.id, frozenset({"user"}), "free", session_id=pair.session_id, issued_at=0)
    assert await identity.revocations.is_revoked(caller)


async def test_refresh_rotates_and_reuse_revokes_the_family(identity: Identity) -> None:
    user, first = await signed_in(identity)
    second = await sessions.refresh(identity, first.refresh_token, CLIENT)
    assert second.refresh_token != first.refresh_token and second.session_id == first.session_id
    third = await sessions.refresh(identity, second.refresh_token, CLIENT)

    with pytest.raises(Unauthenticated):  # the spent first token, replayed
        await sessions.refresh(identity, first.refresh_token, CLIENT)
    with pytest.raises(Unauthenticated):  # the newest token of the family is dead too
        await sessions.refresh(identity, third.refresh_token, CLIENT)
    session = identity.transactions.run_sync(lambda uow: uow.sign_in_sessions.get(first.session_id))
    assert session is not None and session.revoked_at is not None and session.revoke_reason == "refresh_reuse"
    caller = Caller(user.id, frozenset({"user"}), "free", session_id=first.session_id, issued_at=0)
    assert await identity.revocations.is_revoked(caller)
    assert "auth.refresh.reuse_detected" in audit_actions(identity, user.id)


async def test_two_concurrent_refreshes_both_get_the_same_new_token(identity: Identity) -> None:
    """Two tabs refreshing one token at once: one rotates, the other gets the same successor;
    neither is taken for theft (docs/identity.md, Tokens)."""
    for _ in range(5):
        _, pair = await signed_in(identity)
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def attempt(
            token: str = pair.refresh_token,
            barrier: threading.Barrier = barrier,
            outcomes: list[object] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                outcomes.append(asyncio.run(sessions.refresh(identity, token, CLIENT)))
            except Unauthenticated as error:
                outcomes.append(error)

        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        pairs = [o for o in outcomes if isinstance(o, TokenPair)]
        assert len(pairs) == 2, outcomes
        assert pairs[0].refresh_token == pairs[1].refresh_token != pair.refresh_token
        assert all(p.session_id == pair.session_id for p in pairs)
        session_id = pair.session_id
        session = identity.transactions.run_sync(lambda uow, sid=session_id: uow.sign_in_sessions.get(sid))
        assert session is not None and session.revoked_at is None


async def test_within_the_grace_window_the_spent_token_yields_its_successor_again(
    identity: Identity,
) -> None:
    user, first = await signed_in(identity)
    second = await sessions.refresh(identity, first.refresh_token, CLIENT)
    again = await sessions.refresh(identity, first.refresh_token, CLIENT)
    assert again.refresh_token == second.refresh_token and again.session_id == first.session_id
    assert 0 < again.refresh_expires_in <= second.refresh_expires_in
    caller = Caller(user.id, frozenset({"user"}), "free", session_id=first.session_id, issued_at=0)
    assert not await identity.revocations.is_revoked(caller)  # type: ignore[attr-defined]
    third = await sessions.refresh(identity, again.refresh_token, CLIENT)  # the family lives on
    assert third.refresh_token not in {first.refresh_token, second.refresh_token}
    assert "auth.refresh.reuse_detected" not in audit_actions(identity, user.id)


async def test_after_the_grace_window_a_replay_revokes_the_family(identity: Identity, clock: Clock) -> None:
    user, first = await signed_in(identity)
    second = await sessions.refresh(identity, first.refresh_token, CLIENT)
    clock.advance(identity.policy.refresh_grace_s + 1)
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, first.refresh_token, CLIENT)
    with pytest.raises(Unauthenticated):  # the successor died with its family
        await sessions.refresh(identity, second.refresh_token, CLIENT)
    session = identity.transactions.run_sync(lambda uow: uow.sign_in_sessions.get(first.session_id))
    assert session is not None and session.revoke_reason == "refresh_reuse"
    assert "auth.refresh.reuse_detected" in audit_actions(identity, user.id)


async def test_no_grace_when_the_setting_is_zero(identity: Identity) -> None:
    identity.policy = dataclasses.replace(identity.policy, refresh_grace_s=0)
    _, first = await signed_in(identity)
    await sessions.refresh(identity, first.refresh_token, CLIENT)
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, first.refresh_token, CLIENT)
    session = identity.transactions.run_sync(lambda uow: uow.sign_in_sessions.get(first.session_id))
    assert session is not None and session.revoke_reason == "refresh_reuse"


async def test_the_successor_is_stored_sealed_for_the_spent_tokens_holder_only(identity: Identity) -> None:
    _, first = await signed_in(identity)
    second = await sessions.refresh(identity, first.refresh_token, CLIENT)
    spent = identity.transactions.run_sync(lambda uow: uow.refresh_tokens.get(digest(first.refresh_token)))
    assert spent is not None and spent.successor_digest == digest(second.refresh_token)
    assert spent.successor_sealed and second.refresh_token not in spent.successor_sealed
    inner = identity.secrets.decrypt(spent.successor_sealed)
    assert open_for_holder(first.refresh_token, inner) == second.refresh_token
    assert open_for_holder(second.refresh_token, inner) is None
    assert open_for_holder(digest(first.refresh_token), inner) is None  # the stored digest opens nothing
    # Once the successor is spent in turn, the sealed copy is gone.
    await sessions.refresh(identity, second.refresh_token, CLIENT)
    spent = identity.transactions.run_sync(lambda uow: uow.refresh_tokens.get(digest(first.refresh_token)))
    assert spent is not None and spent.successor_sealed is None


async def test_conditional_spend_lets_only_the_first_transaction_through(
    identity: Identity, store: BusinessStore
) -> None:
    """The row-level guarantee under the rotation: a second spender blocks, then loses."""
    _, pair = await signed_in(identity)
    token_digest = digest(pair.refresh_token)
    second: list[bool] = []
    with store.transaction() as session:
        assert SqlIdentityUnitOfWork(session).refresh_tokens.spend(
            token_digest, identity.now(), "a" * 64, "sealed"
        )
        racer = threading.Thread(
            target=lambda: second.append(
                identity.transactions.run_sync(
                    lambda uow: uow.refresh_tokens.spend(token_digest, identity.now(), "b" * 64, "sealed")
                )
            )
        )
        racer.start()
        racer.join(0.5)
        assert racer.is_alive(), "the second spender must wait for the first transaction"
    racer.join(10)
    assert second == [False]


async def test_logout_ends_the_session_and_its_access_tokens(identity: Identity) -> None:
    user, pair = await signed_in(identity)
    await sessions.logout(identity, pair.refresh_token, CLIENT)
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, pair.refresh_token, CLIENT)
    caller = Caller(user.id, frozenset({"user"}), "free", session_id=pair.session_id, issued_at=0)
    assert await identity.revocations.is_revoked(caller)
    assert "auth.logout" in audit_actions(identity, user.id)


async def test_sessions_are_listed_and_revoked_by_their_owner_only(identity: Identity) -> None:
    user, first = await signed_in(identity)
    second = await accounts.login(identity, user.email, PASSWORD, CLIENT)
    assert isinstance(second, TokenPair)
    stranger, _ = await signed_in(identity)
    listed = await sessions.list_sessions(identity, user.id)
    assert [s.id for s in listed] == [second.session_id, first.session_id]
    with pytest.raises(NotFound):
        await sessions.revoke_own_session(identity, stranger.id, first.session_id, CLIENT)
    await sessions.revoke_own_session(identity, user.id, first.session_id, CLIENT)
    assert [s.id for s in await sessions.list_sessions(identity, user.id)] == [second.session_id]
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, first.refresh_token, CLIENT)


async def test_change_password_ends_other_sessions(identity: Identity) -> None:
    user, current = await signed_in(identity)
    other = await accounts.login(identity, user.email, PASSWORD, CLIENT)
    assert isinstance(other, TokenPair)
    with pytest.raises(InvalidArgument) as wrong:
        await accounts.change_password(
            identity, user.id, current.session_id, "wrong wrong wrong", "a brand new passphrase 77", CLIENT
        )
    assert wrong.value.violations[0].field == "current_password"
    await accounts.change_password(
        identity, user.id, current.session_id, PASSWORD, "a brand new passphrase 77", CLIENT
    )
    still_open = identity.transactions.run_sync(
        lambda uow: uow.sign_in_sessions.active_of(user.id, identity.now())
    )
    assert [s.id for s in still_open] == [current.session_id]
    assert isinstance(
        await accounts.login(identity, user.email, "a brand new passphrase 77", CLIENT), TokenPair
    )


def _access_of(user_id: str, pair: TokenPair) -> Caller:
    return Caller(user_id, frozenset({"user"}), "free", session_id=pair.session_id, issued_at=0)


async def test_a_password_change_with_the_revocation_store_down_changes_nothing(identity: Identity) -> None:
    """The other sessions' access tokens are revoked before the change commits: were it the other
    way round, a failure after the commit would leave them valid, and a retry would fail on the
    old password, now wrong."""
    user, current = await signed_in(identity)
    other = await accounts.login(identity, user.email, PASSWORD, CLIENT)
    assert isinstance(other, TokenPair)
    working = identity.revocations
    identity.revocations = RevocationsDownOnce(working)
    with pytest.raises(DependencyUnavailable):
        await accounts.change_password(
            identity, user.id, current.session_id, PASSWORD, "a brand new passphrase 77", CLIENT
        )
    assert isinstance(await accounts.login(identity, user.email, PASSWORD, CLIENT), TokenPair)  # unchanged
    await accounts.change_password(
        identity, user.id, current.session_id, PASSWORD, "a brand new passphrase 77", CLIENT
    )
    assert await working.is_revoked(_access_of(user.id, other))
    assert not await working.is_revoked(_access_of(user.id, current))


async def test_revoking_a_session_with_the_revocation_store_down_can_be_retried(identity: Identity) -> None:
    user, first = await signed_in(identity)
    working = identity.revocations
    identity.revocations = RevocationsDownOnce(working)
    with pytest.raises(DependencyUnavailable):
        await sessions.revoke_own_session(identity, user.id, first.session_id, CLIENT)
    assert [s.id for s in await sessions.list_sessions(identity, user.id)] == [first.session_id]
    await sessions.revoke_own_session(identity, user.id, first.session_id, CLIENT)
    assert await working.is_revoked(_access_of(user.id, first))
    assert await sessions.list_sessions(identity, user.id) == []


async def test_refresh_token_input_is_validated(identity: Identity) -> None:
    with pytest.raises(InvalidArgument) as empty:
        await sessions.refresh(identity, "  ", CLIENT)
    assert empty.value.violations[0].field == "refresh_token"
    with pytest.raises(InvalidArgument):
        await sessions.refresh(identity, "x" * 600, CLIENT)
    with pytest.raises(Unauthenticated):
        await sessions.refresh(identity, "not-a-token", CLIENT)
