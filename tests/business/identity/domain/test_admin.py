"""Admin: last-admin protection, paging and filters, audited changes, atomic audit rows."""

from __future__ import annotations

import time
from typing import Any

import pytest

from business.audit.data import SqlAuditLog
from business.audit.domain import AuditQuery
from business.identity.domain import accounts, admin
from business.identity.domain.admin import AuditFilter, UserFilter
from business.identity.domain.context import Identity
from service_runtime.caller import Caller
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument, NotFound
from tests.business.identity.conftest import CLIENT
from tests.business.identity.helpers import (
    RevocationsDownOnce,
    make_admin,
    registered,
    signed_in,
    stored_user,
)


def audit_events(identity: Identity) -> list[object]:
    return identity.transactions.run_sync(
        lambda uow: list(uow.audit.newest_first(AuditQuery(), limit=100_000, before_id=None))
    )


async def test_the_last_active_admin_cannot_be_demoted_or_suspended(identity: Identity) -> None:
    boss = await registered(identity)
    make_admin(identity, boss.id)
    with pytest.raises(FailedPrecondition, match="at least one active admin"):
        await admin.set_role(identity, boss.id, boss.id, "user", CLIENT)
    with pytest.raises(FailedPrecondition):
        await admin.suspend_user(identity, boss.id, boss.id, True, "", CLIENT)

    deputy = await registered(identity)
    promoted = await admin.set_role(identity, boss.id, deputy.id, "admin", CLIENT)
    assert promoted.user.role == "admin"
    demoted = await admin.set_role(identity, deputy.id, boss.id, "user", CLIENT)
    assert demoted.user.role == "user"
    with pytest.raises(FailedPrecondition):
        await admin.set_role(identity, deputy.id, deputy.id, "user", CLIENT)
    # A suspended admin does not count as one that keeps the platform administered.
    await admin.set_role(identity, deputy.id, boss.id, "admin", CLIENT)
    await admin.suspend_user(identity, deputy.id, boss.id, True, "left the company", CLIENT)
    with pytest.raises(FailedPrecondition):
        await admin.set_role(identity, deputy.id, deputy.id, "user", CLIENT)


async def test_role_change_and_suspension_are_audited_and_revoke_tokens(identity: Identity) -> None:
    boss = await registered(identity)
    make_admin(identity, boss.id)
    user, pair = await signed_in(identity)
    await admin.set_role(identity, boss.id, user.id, "admin", CLIENT)
    await admin.suspend_user(identity, boss.id, user.id, True, "chargebacks", CLIENT)
    reinstated = await admin.suspend_user(identity, boss.id, user.id, False, "", CLIENT)
    assert reinstated.user.status == "active" and reinstated.user.suspended_reason is None

    page = await admin.list_audit_events(
        identity, AuditFilter(AuditQuery(subject_id=user.id, action="admin.*"))
    )
    rows = {e.action: e for e in page.items}
    assert rows["admin.user.role_changed"].before == {"role": "user"}
    assert rows["admin.user.role_changed"].after == {"role": "admin"}
    suspended = rows["admin.user.suspended"]
    assert suspended.actor_id == boss.id and suspended.subject_id == user.id
    assert suspended.before == {"status": "active", "suspended_reason": None}
    assert suspended.after == {"status": "suspended", "suspended_reason": "chargebacks"}
    assert suspended.ip == CLIENT.ip and suspended.user_agent == CLIENT.user_agent
    assert suspended.request_id == CLIENT.request_id
    caller = Caller(user.id, frozenset({"user"}), "free", session_id=pair.session_id, issued_at=0)
    assert await identity.revocations.is_revoked(caller)
    session = identity.transactions.run_sync(lambda uow: uow.sign_in_sessions.get(pair.session_id))
    assert session is not None and session.revoke_reason == "suspended"


async def test_admin_input_is_validated(identity: Identity) -> None:
    boss = await registered(identity)
    with pytest.raises(InvalidArgument) as role:
        await admin.set_role(identity, boss.id, boss.id, "", CLIENT)
    assert role.value.violations[0].field == "role"
    with pytest.raises(InvalidArgument) as reason:
        await admin.suspend_user(identity, boss.id, boss.id, True, "r" * 501, CLIENT)
    assert reason.value.violations[0].field == "reason"
    with pytest.raises(NotFound):
        await admin.set_role(identity, boss.id, "00000000-0000-0000-0000-000000000000", "user", CLIENT)
    for size in (-1, 201):
        with pytest.raises(InvalidArgument) as bad:
            await admin.list_users(identity, UserFilter(page_size=size))
        assert bad.value.violations[0].field == "page_size"
    with pytest.raises(InvalidArgument) as token:
        await admin.list_users(identity, UserFilter(page_token="not-a-token"))
    assert token.value.violations[0].field == "page_token"
    with pytest.raises(InvalidArgument):
        await admin.list_audit_events(identity, AuditFilter(page_size=501))


async def test_users_page_newest_first_without_gaps_or_repeats(identity: Identity) -> None:
    made = [await registered(identity, f"pager-{i}@example.com") for i in range(7)]
    await registered(identity, "someone-else@example.com")
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await admin.list_users(identity, UserFilter(query="PAGER-", page_size=3, page_token=token))
        seen += [a.user.email for a in page.items]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert seen == [u.email for u in reversed(made)]
    suspended = await admin.list_users(identity, UserFilter(status="suspended"))
    assert suspended.items == []
    admins = await admin.list_users(identity, UserFilter(role="admin"))
    assert admins.items == []


async def test_audit_events_page_and_filter(identity: Identity) -> None:
    user, _ = await signed_in(identity)
    for _ in range(4):
        await accounts.login(identity, user.email, "correct horse battery staple 42", CLIENT)
    collected: list[int] = []
    token = ""
    while True:
        page = await admin.list_audit_events(
            identity, AuditFilter(AuditQuery(subject_id=user.id), page_size=2, page_token=token)
        )
        collected += [e.id for e in page.items]
        token = page.next_page_token
        if not token:
            break
    assert collected == sorted(collected, reverse=True) and len(collected) == len(set(collected)) == 6
    logins = await admin.list_audit_events(identity, AuditFilter(AuditQuery(action="auth.login.succeeded")))
    assert len(logins.items) == 5
    prefix = await admin.list_audit_events(
        identity, AuditFilter(AuditQuery(action="auth.*", subject_id=user.id))
    )
    assert len(prefix.items) == 6


async def test_a_failing_action_leaves_no_half_written_rows(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = await registered(identity)
    make_admin(identity, boss.id)
    user, pair = await signed_in(identity)
    count_before = len(audit_events(identity))

    def broken_append(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit write failed")

    monkeypatch.setattr(SqlAuditLog, "append", broken_append)
    with pytest.raises(RuntimeError):
        await admin.suspend_user(identity, boss.id, user.id, True, "fraud", CLIENT)
    monkeypatch.undo()

    stored = identity.transactions.run_sync(lambda uow: uow.users.get(user.id))
    assert stored is not None and stored.status == "active" and stored.suspended_reason is None
    session = identity.transactions.run_sync(lambda uow: uow.sign_in_sessions.get(pair.session_id))
    assert session is not None and session.revoked_at is None
    assert len(audit_events(identity)) == count_before


async def _change(identity: Identity, boss_id: str, user_id: str, change: str) -> None:
    if change == "role":
        await admin.set_role(identity, boss_id, user_id, "admin", CLIENT)
    elif change == "plan":
        await admin.set_plan(identity, boss_id, user_id, "pro", CLIENT)
    else:
        await admin.suspend_user(identity, boss_id, user_id, True, "fraud", CLIENT)


@pytest.mark.parametrize(
    ("change", "attribute", "value"),
    [("role", "role", "admin"), ("plan", "plan", "pro"), ("suspension", "status", "suspended")],
)
async def test_retrying_a_change_whose_revocation_failed_revokes_the_old_tokens(
    identity: Identity, change: str, attribute: str, value: str
) -> None:
    """The change is stored, then the revocation store fails: the admin retries, and the retry,
    with nothing left to change, still revokes the tokens that carry the old value."""
    boss = await registered(identity)
    make_admin(identity, boss.id)
    user, _ = await signed_in(identity)
    old_token = Caller(user.id, frozenset({"user"}), "free", issued_at=time.time())
    working = identity.revocations
    identity.revocations = RevocationsDownOnce(working)
    with pytest.raises(DependencyUnavailable):
        await _change(identity, boss.id, user.id, change)
    assert getattr(stored_user(identity, user.id), attribute) == value
    assert not await working.is_revoked(old_token)  # the old claims still pass
    await _change(identity, boss.id, user.id, change)
    assert await working.is_revoked(old_token)
