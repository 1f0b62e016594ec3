"""Shortcuts shared by the identity tests."""

from __future__ import annotations

from sqlalchemy import select

from business.identity.data.tables import AuditEvent, User
from business.identity.domain import accounts
from business.identity.domain.context import Identity
from business.identity.domain.sessions import TokenPair
from tests.business.identity.conftest import CLIENT, PASSWORD, new_email


async def registered(identity: Identity, email: str = "", password: str = PASSWORD) -> User:
    email = email or new_email()
    await accounts.register(identity, email, password, "Test User", CLIENT)
    user = identity.db.run_sync(lambda s: s.scalars(select(User).where(User.email == email)).one())
    return user


async def signed_in(identity: Identity, email: str = "") -> tuple[User, TokenPair]:
    user = await registered(identity, email)
    pair = await accounts.login(identity, user.email, PASSWORD, CLIENT)
    assert isinstance(pair, TokenPair)
    return user, pair


def audit_actions(identity: Identity, subject_id: str = "") -> list[str]:
    def work(s: object) -> list[str]:
        query = select(AuditEvent.action).order_by(AuditEvent.id)
        if subject_id:
            query = query.where(AuditEvent.subject_id == subject_id)
        return list(s.scalars(query))  # type: ignore[attr-defined]

    return identity.db.run_sync(work)


def make_admin(identity: Identity, user_id: str) -> None:
    def work(s: object) -> None:
        user = s.get(User, user_id)  # type: ignore[attr-defined]
        user.role = "admin"

    identity.db.run_sync(work)
