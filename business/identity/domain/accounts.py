"""Accounts: registration, password sign-in, the user's own profile and password."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from business.identity.data import repositories as repo
from business.identity.data.tables import User
from business.identity.domain import audit, email_links
from business.identity.domain.context import Client, Identity
from business.identity.domain.emails import already_registered_email, verification_email
from business.identity.domain.passwords import MAX_PASSWORD_LENGTH, check_password_policy
from business.identity.domain.second_factor import issue_challenge
from business.identity.domain.sessions import SignInResult, open_session
from business.identity.domain.validation import clean_display_name, normalize_email, normalize_phone
from service_runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, Unauthenticated

INVALID_LOGIN = "invalid email or password"
REGISTERED_MESSAGE = "Check your inbox: we sent a link to verify the address."

T = TypeVar("T")


@dataclass(frozen=True)
class Account:
    """A user as returned to its owner or an admin (no secrets leave through User's fields)."""

    user: User
    linked_providers: list[str]


class _Violations:
    """Gathers the field violations of one request so the caller learns about all of them."""

    def __init__(self) -> None:
        self.found: list[FieldViolation] = []

    def check(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except InvalidArgument as error:
            self.found.extend(error.violations)
            return None

    def raise_any(self) -> None:
        if self.found:
            raise InvalidArgument(*self.found)


def _password_field(password: str, field: str) -> str:
    if not password:
        raise InvalidArgument.field(field, "is required")
    if len(password) > MAX_PASSWORD_LENGTH:
        # Checked before hashing: argon2 on megabytes of input would be a cheap DoS.
        raise InvalidArgument.field(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


async def load_account(identity: Identity, user_id: str) -> Account:
    def work(s: Session) -> Account:
        user = repo.get_user(s, user_id)
        if user is None:
            raise NotFound("account not found")
        return Account(user, repo.linked_providers(s, user.id))

    return await identity.db.run(work)


# --- registration --------------------------------------------------------------------------------


async def register(identity: Identity, email: str, password: str, display_name: str, client: Client) -> str:
    """Same answer, mail included, whether the email is new or taken: no enumeration."""
    v = _Violations()
    email_n = v.check(normalize_email, email)
    name = v.check(clean_display_name, display_name)
    if v.check(_password_field, password, "password") is not None and isinstance(email_n, str):
        v.check(check_password_policy, password, field="password", email=email_n)
    v.raise_any()
    assert isinstance(email_n, str) and isinstance(name, str)
    # Hashed even for a taken email, so both answers cost the same.
    password_hash = await asyncio.to_thread(identity.hasher.hash, password)

    def create(s: Session) -> tuple[User, str]:
        now = identity.now()
        user = User(
            id=str(uuid.uuid4()),
            email=email_n,
            email_verified=False,
            password_hash=password_hash,
            display_name=name,
            role="user",
            status="active",
            plan="free",
            totp_enabled=False,
            phone_verified=False,
            created_at=now,
            updated_at=now,
        )
        s.add(user)
        s.flush()  # the unique email is checked here, before the link and the audit row
        link = email_links.new_link(s, identity, user, email_links.EMAIL_VERIFY)
        audit.record(
            s,
            identity,
            "auth.register",
            client,
            actor_id=user.id,
            subject_id=user.id,
            after={"email": user.email, "display_name": user.display_name},
        )
        return user, link

    def taken(s: Session) -> tuple[User, str] | None:
        user = repo.user_by_email(s, email_n)
        if user is None:
            return None
        link = email_links.new_link(s, identity, user, email_links.PASSWORD_RESET)
        audit.record(
            s,
            identity,
            "auth.register.duplicate",
            client,
            outcome=audit.FAILED,
            subject_id=user.id,
            detail={"reason": "email_taken"},
        )
        return user, link

    existing = await identity.db.run(taken)
    if existing is None:
        try:
            user, link = await identity.db.run(create)
        except IntegrityError:
            # A concurrent registration of the same email won; answer as for a taken one.
            existing = await identity.db.run(taken)
            if existing is None:
                raise
        else:
            await identity.mailer.send(verification_email(user.email, link))
            return REGISTERED_MESSAGE
    await identity.mailer.send(already_registered_email(existing[0].email, existing[1]))
    return REGISTERED_MESSAGE


# --- password sign-in ----------------------------------------------------------------------------


async def login(identity: Identity, email: str, password: str, client: Client) -> SignInResult:
    email_n = normalize_email(email)
    _password_field(password, "password")
    await identity.limiter.check("password", email_n, client.ip)
    user = await identity.db.run(lambda s: repo.user_by_email(s, email_n))
    # Unknown accounts verify against a dummy hash: the same cost as a wrong password.
    ok = await asyncio.to_thread(identity.hasher.verify, user.password_hash if user else None, password)
    if user is None or not ok:
        await identity.limiter.record_failure("password", email_n, client.ip)
        await audit.record_alone(
            identity,
            "auth.login.failed",
            client,
            subject_id=user.id if user else "",
            detail={"reason": "wrong_password" if user else "unknown_email", "method": "password"},
        )
        raise Unauthenticated(INVALID_LOGIN)
    if user.status != "active":
        await audit.record_alone(
            identity,
            "auth.login.failed",
            client,
            subject_id=user.id,
            detail={"reason": "suspended", "method": "password"},
        )
        raise Unauthenticated(INVALID_LOGIN)
    await identity.limiter.record_success("password", email_n)
    assert user.password_hash is not None
    new_hash = None
    if identity.hasher.needs_rehash(user.password_hash):
        new_hash = await asyncio.to_thread(identity.hasher.hash, password)
    return await identity.db.run(
        lambda s: complete_sign_in(s, identity, user.id, "password", client, new_hash)
    )


def complete_sign_in(
    s: Session, identity: Identity, user_id: str, method: str, client: Client, new_hash: str | None = None
) -> SignInResult:
    """After a first factor: a challenge when 2FA is on, tokens otherwise (one transaction)."""
    user = repo.get_user(s, user_id)
    if user is None or user.status != "active":
        raise Unauthenticated(INVALID_LOGIN)
    if new_hash is not None:
        # Parameters were raised since this hash was made: upgrade it while we have the password.
        user.password_hash = new_hash
    if user.totp_enabled:
        return issue_challenge(s, identity, user, method, client)
    return open_session(s, identity, user, method, client)


# --- the signed-in user's own account ------------------------------------------------------------


async def update_me(
    identity: Identity, user_id: str, display_name: str | None, phone_number: str | None, client: Client
) -> Account:
    v = _Violations()
    name = v.check(clean_display_name, display_name) if display_name is not None else None
    phone: str | None = None
    if phone_number is not None and phone_number.strip():
        phone = v.check(normalize_phone, phone_number)
    v.raise_any()

    def work(s: Session) -> Account:
        user = repo.get_user(s, user_id, lock=True)
        if user is None:
            raise NotFound("account not found")
        before = audit.snapshot(user)
        if isinstance(name, str):
            user.display_name = name
        if phone_number is not None:
            new_phone = phone or None
            if new_phone != user.phone_number:
                other = repo.user_by_phone(s, new_phone) if new_phone else None
                if other is not None:
                    raise AlreadyExists("phone_number: this number belongs to another account")
                user.phone_number = new_phone
                user.phone_verified = False
        old, new = audit.changes(before, audit.snapshot(user))
        if new:
            user.updated_at = identity.now()
            s.flush()
            audit.record(
                s,
                identity,
                "user.profile.updated",
                client,
                actor_id=user.id,
                subject_id=user.id,
                before=old,
                after=new,
            )
        return Account(user, repo.linked_providers(s, user.id))

    try:
        return await identity.db.run(work)
    except IntegrityError:
        # Two accounts claimed the same number at once; the unique index kept one.
        raise AlreadyExists("phone_number: this number belongs to another account") from None


async def change_password(
    identity: Identity,
    user_id: str,
    current_session_id: str,
    current_password: str,
    new_password: str,
    client: Client,
) -> None:
    v = _Violations()
    v.check(_password_field, current_password, "current_password")
    v.check(_password_field, new_password, "new_password")
    v.raise_any()
    user = await identity.db.run(lambda s: repo.get_user(s, user_id))
    if user is None:
        raise NotFound("account not found")
    check_password_policy(new_password, field="new_password", email=user.email)
    await identity.limiter.check("password", user.email, client.ip)
    ok = await asyncio.to_thread(identity.hasher.verify, user.password_hash, current_password)
    if not ok:
        await identity.limiter.record_failure("password", user.email, client.ip)
        await audit.record_alone(
            identity,
            "user.password.change_failed",
            client,
            actor_id=user.id,
            subject_id=user.id,
            detail={"reason": "wrong_current_password"},
        )
        raise InvalidArgument.field("current_password", "is not correct")
    await identity.limiter.record_success("password", user.email)
    new_hash = await asyncio.to_thread(identity.hasher.hash, new_password)

    def work(s: Session) -> list[str]:
        fresh = repo.get_user(s, user_id, lock=True)
        if fresh is None:
            raise NotFound("account not found")
        fresh.password_hash = new_hash
        fresh.updated_at = identity.now()
        # Whoever else holds a session may hold it because they knew the old password.
        ended = repo.revoke_user_sessions(
            s, user_id, identity.now(), "password_changed", keep=current_session_id
        )
        audit.record(
            s,
            identity,
            "user.password.changed",
            client,
            actor_id=user_id,
            subject_id=user_id,
            detail={"sessions_ended": len(ended)},
        )
        return ended

    for session_id in await identity.db.run(work):
        await identity.revocations.revoke_session(session_id)
