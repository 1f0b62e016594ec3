"""Emailed single-use links: email verification and password reset."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from business.audit.domain import Client
from business.identity.domain.context import Identity
from business.identity.domain.emails import password_reset_email, verification_email
from business.identity.domain.entities import OneTimeCode, User
from business.identity.domain.one_time_secrets import digest, new_opaque_token
from business.identity.domain.ownership import BY_PASSWORD_RESET, claim_unproven_account
from business.identity.domain.passwords import check_password_policy, given_password
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.validation import normalize_email
from service_runtime.errors import DependencyUnavailable, InvalidArgument, NotFound

log = logging.getLogger("business.identity")

EMAIL_VERIFY = "email_verify"
PASSWORD_RESET = "password_reset"
_PATHS = {EMAIL_VERIFY: "verify-email", PASSWORD_RESET: "reset-password"}
FORGOT_MESSAGE = "If an account uses this address, we sent it a link to reset the password."
# A whole sentence (capitalised): pages show it as it is, not after the field's name.
INVALID_LINK = "This link is invalid, expired or already used"
# Mails to one address (or asked for by one client), whatever the path (registration, resent
# verification, forgotten password), before the limiter holds them back.
MAIL_SCOPE = "mail"


def new_link(uow: IdentityUnitOfWork, identity: Identity, user: User, purpose: str) -> str:
    """A fresh link for `purpose`; older open links of the same purpose stop working."""
    now = identity.now()
    ttl = identity.policy.verify_link_ttl_s if purpose == EMAIL_VERIFY else identity.policy.reset_link_ttl_s
    uow.one_time_codes.retire(purpose, now, user_id=user.id)
    token = new_opaque_token()
    uow.one_time_codes.add(
        OneTimeCode(
            id=str(uuid.uuid4()),
            user_id=user.id,
            purpose=purpose,
            digest=digest(token),
            target=user.email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return identity.policy.link(_PATHS[purpose], token)


def _token_field(token: str) -> str:
    token = token.strip()
    if not token:
        raise InvalidArgument.field("token", "is required")
    if len(token) > 512:
        raise InvalidArgument.field("token", "must be at most 512 characters")
    return token


@contextlib.asynccontextmanager
async def _invalid_link_recorded(identity: Identity, client: Client, action: str) -> AsyncIterator[None]:
    """Audits `action` as failed when the body refuses the link itself (other refusals, such as
    a weak password, audit themselves or are the caller's to fix)."""
    try:
        yield
    except InvalidArgument as error:
        if any(v.field == "token" for v in error.violations):
            await identity.record_failure(action, client, detail={"reason": "invalid_link"})
        raise


def _redeem(uow: IdentityUnitOfWork, identity: Identity, purpose: str, token: str) -> User:
    """Consumes the link's code (single use) and returns its user, in the caller's transaction."""
    code = uow.one_time_codes.by_digest(purpose, digest(token))
    if code is None or not code.user_id or not uow.one_time_codes.consume(code.id, identity.now()):
        raise InvalidArgument.field("token", INVALID_LINK)
    user = uow.users.get(code.user_id, for_update=True)
    # A link mailed to an address the account no longer has proves nothing about the account.
    if user is None or user.email != code.target:
        raise InvalidArgument.field("token", INVALID_LINK)
    return user


def _open_link_holder(uow: IdentityUnitOfWork, identity: Identity, purpose: str, token: str) -> User | None:
    """The account of an unspent, unexpired link, without spending it."""
    code = uow.one_time_codes.by_digest(purpose, digest(token))
    if code is None or not code.user_id or code.consumed_at is not None or code.expires_at <= identity.now():
        return None
    user = uow.users.get(code.user_id)
    return user if user is not None and user.email == code.target else None


async def _check_registrant_password(identity: Identity, user: User, password: str, client: Client) -> None:
    """The link proves the address; the password proves that whoever opened it is who registered
    the account. Without it, an address's owner opening the mail that a squatter's registration
    sent would verify the squatter's account (password, TOTP, phone) for them, and no later reset
    would claim it. Counted like a sign-in: the link is no password oracle."""
    attempt = await identity.limiter.attempt("password", user.email, client.ip)
    if not await identity.hasher.verify_async(user.password_hash, password):
        await identity.record_failure(
            "auth.email.verify_failed",
            client,
            subject_id=user.id,
            detail={"reason": "wrong_password"},
        )
        raise InvalidArgument.field("password", "is not the password this account was registered with")
    await identity.limiter.succeeded(attempt)


def _mark_verified(uow: IdentityUnitOfWork, identity: Identity, token: str, client: Client) -> None:
    user = _redeem(uow, identity, EMAIL_VERIFY, token)
    if user.email_verified:
        return
    user.email_verified = True
    user.updated_at = identity.now()
    uow.users.save(user)
    identity.record(
        uow,
        "auth.email.verified",
        client,
        actor_id=user.id,
        subject_id=user.id,
        before={"email_verified": False},
        after={"email_verified": True},
    )


async def verify_email(identity: Identity, token: str, password: str, client: Client) -> None:
    token = _token_field(token)
    given_password(password, "password")
    async with _invalid_link_recorded(identity, client, "auth.email.verify_failed"):
        holder = await identity.transactions.run(
            lambda uow: _open_link_holder(uow, identity, EMAIL_VERIFY, token)
        )
        if holder is None:
            raise InvalidArgument.field("token", INVALID_LINK)
        await _check_registrant_password(identity, holder, password, client)
        await identity.transactions.run(lambda uow: _mark_verified(uow, identity, token, client))


def _unverified(uow: IdentityUnitOfWork, user_id: str) -> User | None:
    user = uow.users.get(user_id)
    if user is None:
        raise NotFound("account not found")
    return None if user.email_verified else user


async def resend_verification(identity: Identity, user_id: str, client: Client) -> bool:
    pending = await identity.transactions.run(lambda uow: _unverified(uow, user_id))
    if pending is None:
        return False
    # The address's mail budget, shared with registration and forgotten passwords.
    await identity.sends.take(MAIL_SCOPE, pending.email, client.ip)

    def work(uow: IdentityUnitOfWork) -> tuple[User, str] | None:
        user = _unverified(uow, user_id)
        if user is None:
            return None
        link = new_link(uow, identity, user, EMAIL_VERIFY)
        identity.record(uow, "user.email.verification_sent", client, actor_id=user.id, subject_id=user.id)
        return user, link

    sent = await identity.transactions.run(work)
    if sent is None:
        return False
    await identity.mailer.send(verification_email(sent[0].email, sent[1]))
    return True


async def forgot_password(identity: Identity, email: str, client: Client) -> str:
    email_n = normalize_email(email)
    # Counted whether or not an account has the address: the answer says nothing about it.
    await identity.sends.take(MAIL_SCOPE, email_n, client.ip)

    def work(uow: IdentityUnitOfWork) -> tuple[User, str] | None:
        user = uow.users.by_email(email_n)
        if user is None or not user.is_active:
            return None
        link = new_link(uow, identity, user, PASSWORD_RESET)
        identity.record(uow, "auth.password.reset_requested", client, subject_id=user.id)
        return user, link

    found = await identity.transactions.run(work)
    if found is not None:
        # Not awaited: an unknown address sends nothing, and the answer must not take longer
        # for a known one.
        identity.in_background(
            identity.mailer.send(password_reset_email(found[0].email, found[1])), "password reset email"
        )
    return FORGOT_MESSAGE


async def _revoke_before_reset(identity: Identity, token: str) -> None:
    """Every access token of the link's account issued until now stops working, before anything
    is spent: with the revocation store down the reset fails as UNAVAILABLE and the link still
    works on a retry. Revoking after the commit only, a failure there left the old tokens (an
    intruder's, the reason for a reset) valid for their lifetime, with the link spent."""

    def holder(uow: IdentityUnitOfWork) -> str:
        code = uow.one_time_codes.by_digest(PASSWORD_RESET, digest(token))
        return code.user_id if code is not None and code.user_id else ""

    user_id = await identity.transactions.run(holder)
    if user_id:  # an unknown link is refused by the reset itself
        await identity.revocations.revoke_subject(user_id)


async def reset_password(identity: Identity, token: str, new_password: str, client: Client) -> None:
    token = _token_field(token)
    given_password(new_password, "new_password")
    check_password_policy(new_password, field="new_password")
    new_hash = await identity.hasher.hash_async(new_password)
    await _revoke_before_reset(identity, token)

    def work(uow: IdentityUnitOfWork) -> str:
        user = _redeem(uow, identity, PASSWORD_RESET, token)
        check_password_policy(new_password, field="new_password", email=user.email)
        was_verified = user.email_verified
        ended: list[str] = []
        if not was_verified:
            # The link reached the mailbox: the address is proven, and whoever registered it
            # without owning it loses every way in they set up (TOTP, phone, links, sessions).
            ended = claim_unproven_account(
                uow, identity.now(), user, client, proof=BY_PASSWORD_RESET, actor_id=user.id
            )
        user.password_hash = new_hash
        user.updated_at = identity.now()
        uow.users.save(user)
        ended += uow.sign_in_sessions.revoke_all_of(user.id, identity.now(), "password_reset")
        identity.record(
            uow,
            "auth.password.reset",
            client,
            actor_id=user.id,
            subject_id=user.id,
            before={"email_verified": was_verified},
            after={"email_verified": True},
            detail={"sessions_ended": len(ended)},
        )
        return user.id

    async with _invalid_link_recorded(identity, client, "auth.password.reset_failed"):
        user_id = await identity.transactions.run(work)
    # Again, for a token refreshed while the reset ran (its session is ended now).
    try:
        await identity.revocations.revoke_subject(user_id)
    except DependencyUnavailable as down:
        log.warning("password reset of %s stored; second revocation failed: %s", user_id, down)
