"""Accounts: registration, password sign-in, the user's own profile and password."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from business.audit import domain as audit
from business.audit.domain import Client
from business.identity.domain import email_links, sessions
from business.identity.domain.context import Identity
from business.identity.domain.emails import already_registered_email, verification_email
from business.identity.domain.entities import PROFILE_FIELDS, User
from business.identity.domain.passwords import check_password_policy, given_password
from business.identity.domain.ports import IdentityUnitOfWork, UniqueConflict
from business.identity.domain.second_factor import issue_challenge
from business.identity.domain.sessions import SignInResult, open_session
from business.identity.domain.validation import clean_display_name, normalize_email, normalize_phone
from business.shared.emails import OutgoingEmail
from service_runtime.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, Unauthenticated

INVALID_LOGIN = "invalid email or password"
REGISTERED_MESSAGE = "Check your inbox: we sent a link to verify the address."
PHONE_TAKEN = "phone_number: this number belongs to another account"

T = TypeVar("T")


@dataclass(frozen=True)
class Account:
    """A user as returned to its owner or an admin (the handlers choose what leaves)."""

    user: User
    linked_providers: list[str]
    # Unused backup codes while 2FA is on; left 0 in admin listings.
    backup_codes_remaining: int = 0


def account_of(uow: IdentityUnitOfWork, user: User) -> Account:
    remaining = uow.backup_codes.remaining(user.id) if user.totp_enabled else 0
    return Account(user, uow.oauth_identities.providers_of(user.id), remaining)


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


def _existing_user(uow: IdentityUnitOfWork, user_id: str, *, for_update: bool = False) -> User:
    user = uow.users.get(user_id, for_update=for_update)
    if user is None:
        raise NotFound("account not found")
    return user


async def load_account(identity: Identity, user_id: str) -> Account:
    return await identity.transactions.run(lambda uow: account_of(uow, _existing_user(uow, user_id)))


# --- registration --------------------------------------------------------------------------------


def _registration_fields(email: str, password: str, display_name: str) -> tuple[str, str]:
    """The normalised email and name; every bad field named at once."""
    v = _Violations()
    email_n = v.check(normalize_email, email)
    name = v.check(clean_display_name, display_name)
    if v.check(given_password, password, "password") is not None and isinstance(email_n, str):
        v.check(check_password_policy, password, field="password", email=email_n)
    v.raise_any()
    assert isinstance(email_n, str) and isinstance(name, str)
    return email_n, name


def _create_account(
    uow: IdentityUnitOfWork, identity: Identity, email: str, password_hash: str, name: str, client: Client
) -> tuple[User, str]:
    """The new account and its verification link."""
    now = identity.now()
    user = User(
        id=str(uuid.uuid4()),
        email=email,
        password_hash=password_hash,
        display_name=name,
        created_at=now,
        updated_at=now,
    )
    uow.users.add(user)  # the unique email is checked here, before the link and the audit entry
    link = email_links.new_link(uow, identity, user, email_links.EMAIL_VERIFY)
    identity.record(
        uow,
        "auth.register",
        client,
        actor_id=user.id,
        subject_id=user.id,
        after={"email": user.email, "display_name": user.display_name},
    )
    return user, link


@dataclass(frozen=True)
class _TakenEmail:
    user: User
    # A fresh verification link when the account never proved the address ('' otherwise).
    verification_link: str


def _answer_taken_email(
    uow: IdentityUnitOfWork, identity: Identity, email: str, client: Client
) -> _TakenEmail | None:
    """For an email already registered: its owner (None if it is free). An account that never
    proved the address gets a new verification link: the registration whose mail failed (SMTP
    down) is retried, and the retry must not get "already registered" and no link. Whoever opens
    it still needs the account's password (`email_links.verify_email`). A proven account gets no
    reset link: the owner did not ask for one (and a new one would retire the owner's own)."""
    user = uow.users.by_email(email)
    if user is None:
        return None
    identity.record(
        uow,
        "auth.register.duplicate",
        client,
        outcome=audit.FAILED,
        subject_id=user.id,
        detail={"reason": "email_taken"},
    )
    unproven = not user.email_verified and user.password_hash is not None
    link = email_links.new_link(uow, identity, user, email_links.EMAIL_VERIFY) if unproven else ""
    return _TakenEmail(user, link)


def _mail_for_taken(identity: Identity, taken: _TakenEmail) -> OutgoingEmail:
    if taken.verification_link:
        return verification_email(taken.user.email, taken.verification_link)
    return already_registered_email(taken.user.email, identity.policy.page("forgot-password"))


async def register(identity: Identity, email: str, password: str, display_name: str, client: Client) -> str:
    """Same answer, mail included, whether the email is new or taken: no enumeration. Every
    registration counts against the address's and the client's mail limits, new or taken."""
    email_n, name = _registration_fields(email, password, display_name)
    await identity.sends.take(email_links.MAIL_SCOPE, email_n, client.ip)
    # Hashed even for a taken email, so both answers cost the same.
    password_hash = await identity.hasher.hash_async(password)
    taken = await identity.transactions.run(lambda uow: _answer_taken_email(uow, identity, email_n, client))
    if taken is None:
        try:
            user, link = await identity.transactions.run(
                lambda uow: _create_account(uow, identity, email_n, password_hash, name, client)
            )
        except UniqueConflict:
            # A concurrent registration of the same email won; answer as for a taken one.
            taken = await identity.transactions.run(
                lambda uow: _answer_taken_email(uow, identity, email_n, client)
            )
            if taken is None:
                raise
        else:
            await identity.mailer.send(verification_email(user.email, link))
            return REGISTERED_MESSAGE
    await identity.mailer.send(_mail_for_taken(identity, taken))
    return REGISTERED_MESSAGE


# --- password sign-in ----------------------------------------------------------------------------


async def _refuse_login(identity: Identity, user: User | None, reason: str, client: Client) -> NoReturn:
    await identity.record_failure(
        "auth.login.failed",
        client,
        subject_id=user.id if user else "",
        detail={"reason": reason, "method": "password"},
    )
    raise Unauthenticated(INVALID_LOGIN)


async def login(identity: Identity, email: str, password: str, client: Client) -> SignInResult:
    email_n = normalize_email(email)
    given_password(password, "password")
    attempt = await identity.limiter.attempt("password", email_n, client.ip)
    user = await identity.transactions.run(lambda uow: uow.users.by_email(email_n))
    # Unknown accounts verify against a dummy hash: the same cost as a wrong password.
    ok = await identity.hasher.verify_async(user.password_hash if user else None, password)
    if user is None or not ok:
        await _refuse_login(identity, user, "wrong_password" if user else "unknown_email", client)
    if not user.is_active:
        await _refuse_login(identity, user, "suspended", client)
    await identity.limiter.succeeded(attempt)
    assert user.password_hash is not None
    new_hash = None
    if identity.hasher.needs_rehash(user.password_hash):
        new_hash = await identity.hasher.hash_async(password)
    return await identity.transactions.run(
        lambda uow: complete_sign_in(uow, identity, user.id, "password", client, new_hash)
    )


def complete_sign_in(
    uow: IdentityUnitOfWork,
    identity: Identity,
    user_id: str,
    method: str,
    client: Client,
    new_hash: str | None = None,
) -> SignInResult:
    """After a first factor: a challenge when 2FA is on, tokens otherwise (one transaction)."""
    user = uow.users.get(user_id)
    if user is None or not user.is_active:
        raise Unauthenticated(INVALID_LOGIN)
    if new_hash is not None:
        # Parameters were raised since this hash was made: upgrade it while we have the password.
        user.password_hash = new_hash
        uow.users.save(user)
    if user.totp_enabled:
        return issue_challenge(uow, identity, user, method, client)
    return open_session(uow, identity, user, method, client)


# --- the signed-in user's own account ------------------------------------------------------------


def _profile_fields(display_name: str | None, phone_number: str | None) -> tuple[str | None, str | None]:
    """The cleaned name (None: unchanged) and phone ("" or None: none given or cleared)."""
    v = _Violations()
    name = v.check(clean_display_name, display_name) if display_name is not None else None
    phone: str | None = None
    if phone_number is not None and phone_number.strip():
        phone = v.check(normalize_phone, phone_number)
    v.raise_any()
    return name, phone


def _change_phone(uow: IdentityUnitOfWork, user: User, new_phone: str | None) -> None:
    if new_phone == user.phone_number:
        return
    other = uow.users.by_phone(new_phone) if new_phone else None
    if other is not None:
        raise AlreadyExists(PHONE_TAKEN)
    user.phone_number = new_phone
    user.phone_verified = False


async def update_me(
    identity: Identity, user_id: str, display_name: str | None, phone_number: str | None, client: Client
) -> Account:
    name, phone = _profile_fields(display_name, phone_number)

    def work(uow: IdentityUnitOfWork) -> Account:
        user = _existing_user(uow, user_id, for_update=True)
        before = audit.snapshot(user, PROFILE_FIELDS)
        if isinstance(name, str):
            user.display_name = name
        if phone_number is not None:
            _change_phone(uow, user, phone or None)
        old, new = audit.changes(before, audit.snapshot(user, PROFILE_FIELDS))
        if new:
            user.updated_at = identity.now()
            uow.users.save(user)
            identity.record(
                uow,
                "user.profile.updated",
                client,
                actor_id=user.id,
                subject_id=user.id,
                before=old,
                after=new,
            )
        return account_of(uow, user)

    try:
        return await identity.transactions.run(work)
    except UniqueConflict:
        # Two accounts claimed the same number at once; the unique index kept one.
        raise AlreadyExists(PHONE_TAKEN) from None


async def change_password(
    identity: Identity,
    user_id: str,
    current_session_id: str,
    current_password: str,
    new_password: str,
    client: Client,
) -> None:
    v = _Violations()
    v.check(given_password, current_password, "current_password")
    v.check(given_password, new_password, "new_password")
    v.raise_any()
    user = await identity.transactions.run(lambda uow: _existing_user(uow, user_id))
    check_password_policy(new_password, field="new_password", email=user.email)
    attempt = await identity.limiter.attempt("password", user.email, client.ip)
    ok = await identity.hasher.verify_async(user.password_hash, current_password)
    if not ok:
        await identity.record_failure(
            "user.password.change_failed",
            client,
            actor_id=user.id,
            subject_id=user.id,
            detail={"reason": "wrong_current_password"},
        )
        raise InvalidArgument.field("current_password", "is not correct")
    await identity.limiter.succeeded(attempt)
    new_hash = await identity.hasher.hash_async(new_password)
    revoked = await sessions.revoke_open_sessions_ahead(identity, user_id, keep=current_session_id)

    def work(uow: IdentityUnitOfWork) -> list[str]:
        fresh = _existing_user(uow, user_id, for_update=True)
        fresh.password_hash = new_hash
        fresh.updated_at = identity.now()
        uow.users.save(fresh)
        # Whoever else holds a session may hold it because they knew the old password.
        ended = uow.sign_in_sessions.revoke_all_of(
            user_id, identity.now(), "password_changed", keep=current_session_id
        )
        identity.record(
            uow,
            "user.password.changed",
            client,
            actor_id=user_id,
            subject_id=user_id,
            detail={"sessions_ended": len(ended)},
        )
        return ended

    await sessions.revoke_the_rest(identity, await identity.transactions.run(work), revoked)
