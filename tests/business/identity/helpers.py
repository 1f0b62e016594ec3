"""Shortcuts shared by the identity tests."""

from __future__ import annotations

import pyotp

from business.audit.domain import AuditQuery
from business.identity.domain import accounts, second_factor
from business.identity.domain.context import Identity
from business.identity.domain.entities import User
from business.identity.domain.sessions import TokenPair
from service_runtime.caller import Caller
from service_runtime.errors import DependencyUnavailable
from service_runtime.revocations import Revocations
from tests.business.identity.conftest import CLIENT, PASSWORD, new_email


def stored_user(identity: Identity, user_id: str) -> User:
    user = identity.transactions.run_sync(lambda uow: uow.users.get(user_id))
    assert user is not None
    return user


async def registered(identity: Identity, email: str = "", password: str = PASSWORD) -> User:
    email = email or new_email()
    await accounts.register(identity, email, password, "Test User", CLIENT)
    user = identity.transactions.run_sync(lambda uow: uow.users.by_email(email))
    assert user is not None
    return user


async def signed_in(identity: Identity, email: str = "") -> tuple[User, TokenPair]:
    user = await registered(identity, email)
    pair = await accounts.login(identity, user.email, PASSWORD, CLIENT)
    assert isinstance(pair, TokenPair)
    return user, pair


def audit_actions(identity: Identity, subject_id: str = "") -> list[str]:
    """The actions of the audit log, oldest first."""
    events = identity.transactions.run_sync(
        lambda uow: uow.audit.newest_first(AuditQuery(subject_id=subject_id), limit=100_000, before_id=None)
    )
    return [e.action for e in reversed(events)]


def make_admin(identity: Identity, user_id: str) -> None:
    def work(uow: object) -> None:
        user = uow.users.get(user_id)  # type: ignore[attr-defined]
        user.role = "admin"
        uow.users.save(user)  # type: ignore[attr-defined]

    identity.transactions.run_sync(work)


async def with_totp(identity: Identity, user_id: str) -> tuple[str, list[str]]:
    """Turns TOTP on for the user: its secret and backup codes."""
    enrollment = await second_factor.enroll_totp(identity, user_id, CLIENT)
    codes = await second_factor.confirm_totp(identity, user_id, pyotp.TOTP(enrollment.secret).now(), CLIENT)
    return enrollment.secret, codes


class RevocationsDownOnce:
    """The revocation store (Redis) failing its first write, then back."""

    def __init__(self, working: Revocations) -> None:
        self.working = working
        self.down = True

    async def _write(self) -> None:
        if self.down:
            self.down = False
            raise DependencyUnavailable("revocation store unavailable")

    async def revoke_subject(self, subject: str) -> None:
        await self._write()
        await self.working.revoke_subject(subject)

    async def revoke_session(self, session_id: str) -> None:
        await self._write()
        await self.working.revoke_session(session_id)

    async def is_revoked(self, caller: Caller) -> bool:
        return await self.working.is_revoked(caller)
