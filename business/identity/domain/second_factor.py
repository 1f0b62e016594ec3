"""Second factor: login challenges, TOTP (RFC 6238) and single-use backup codes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from business.audit.domain import Client
from business.identity.domain import totp
from business.identity.domain.context import Identity
from business.identity.domain.entities import OneTimeCode, User
from business.identity.domain.one_time_secrets import (
    backup_code_digest,
    digest,
    new_backup_codes,
    new_opaque_token,
)
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.sessions import Challenge, TokenPair, open_session
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated

LOGIN_CHALLENGE = "login_challenge"
BACKUP_CODE_COUNT = 10
MAX_CODE_LENGTH = 32
INVALID_CHALLENGE = "invalid or expired challenge"
INVALID_CODE = "invalid code"


class _Refused(Exception):
    """Rolls a unit of work back; the reason goes to the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Factor:
    """Exactly one of the two, as the request's oneof says."""

    kind: str  # "totp" | "backup_code"
    code: str

    @classmethod
    def parse(cls, kind: str | None, code: str, field_prefix: str = "", field: str = "") -> Factor:
        """`field`: the request's name for the code when it is not totp_code / backup_code."""
        if kind not in ("totp", "backup_code"):
            raise InvalidArgument.field(
                f"{field_prefix}totp_code", "a totp_code or a backup_code is required"
            )
        field = field or f"{field_prefix}{'totp_code' if kind == 'totp' else 'backup_code'}"
        code = code.strip()
        if not code:
            raise InvalidArgument.field(field, "is required")
        if len(code) > MAX_CODE_LENGTH:
            raise InvalidArgument.field(field, f"must be at most {MAX_CODE_LENGTH} characters")
        return cls(kind, code)


def issue_challenge(
    uow: IdentityUnitOfWork, identity: Identity, user: User, method: str, client: Client
) -> Challenge:
    """Instead of tokens: an opaque, short-lived challenge, stored as its digest."""
    now = identity.now()
    token = new_opaque_token()
    uow.one_time_codes.add(
        OneTimeCode(
            id=str(uuid.uuid4()),
            user_id=user.id,
            purpose=LOGIN_CHALLENGE,
            digest=digest(token),
            target=method,
            created_at=now,
            expires_at=now + timedelta(seconds=identity.policy.challenge_ttl_s),
        )
    )
    identity.record(uow, "auth.2fa.challenged", client, subject_id=user.id, detail={"method": method})
    return Challenge(token, identity.policy.challenge_ttl_s)


def _accept_totp(uow: IdentityUnitOfWork, identity: Identity, user: User, code: str) -> bool:
    if not user.totp_secret_encrypted:
        return False
    try:
        secret = identity.secrets.decrypt(user.totp_secret_encrypted)
    except ValueError:
        return False
    step = totp.match_totp(secret, code, user.totp_last_step, now=identity.now().timestamp())
    if step is None or not uow.users.claim_totp_step(user.id, step):
        return False
    user.totp_last_step = step
    return True


def _accept_factor(uow: IdentityUnitOfWork, identity: Identity, user: User, factor: Factor) -> bool:
    """Checks and spends the factor (a TOTP step or a backup code) in the caller's transaction.
    Both writes are conditional, so a code cannot be used twice even by concurrent requests."""
    if factor.kind == "backup_code":
        return uow.backup_codes.use(user.id, backup_code_digest(factor.code), identity.now())
    return _accept_totp(uow, identity, user, factor.code)


def _challenge_digest(challenge_token: str) -> str:
    token = challenge_token.strip()
    if not token:
        raise InvalidArgument.field("challenge_token", "is required")
    if len(token) > 512:
        raise InvalidArgument.field("challenge_token", "must be at most 512 characters")
    return digest(token)


def _pass_challenge(
    uow: IdentityUnitOfWork, identity: Identity, challenge: OneTimeCode, factor: Factor, client: Client
) -> TokenPair:
    """Spends the challenge and the factor and opens the session; _Refused undoes it all."""
    user = uow.users.get(challenge.user_id or "")
    if user is None or not user.is_active or not user.totp_enabled:
        raise _Refused("account_unavailable")
    if not uow.one_time_codes.consume(challenge.id, identity.now()):
        raise _Refused("invalid_challenge")
    if not _accept_factor(uow, identity, user, factor):
        raise _Refused("wrong_code")  # undoes the consumption above: the challenge stays open
    identity.record(
        uow,
        "auth.2fa.verified",
        client,
        actor_id=user.id,
        subject_id=user.id,
        detail={"factor": factor.kind, "method": challenge.target},
    )
    return open_session(uow, identity, user, challenge.target, client)


async def _answer_challenge(
    identity: Identity, challenge: OneTimeCode, factor: Factor, client: Client
) -> TokenPair | str:
    """The session `factor` opens, or why it was refused. The try is counted against the
    challenge's attempts first, in a transaction of its own committed before the factor is
    checked, so concurrent guesses cannot get past challenge_max_attempts."""
    max_attempts = identity.policy.challenge_max_attempts
    if not await identity.transactions.run(
        lambda uow: uow.one_time_codes.count_attempt(challenge.id, max_attempts, identity.now())
    ):
        return "attempts_spent"
    try:
        return await identity.transactions.run(
            lambda uow: _pass_challenge(uow, identity, challenge, factor, client)
        )
    except _Refused as refused:
        return refused.reason


async def verify_second_factor(
    identity: Identity, challenge_token: str, factor: Factor, client: Client
) -> TokenPair:
    challenge_digest = _challenge_digest(challenge_token)
    now = identity.now()
    challenge = await identity.transactions.run(
        lambda uow: uow.one_time_codes.by_digest(LOGIN_CHALLENGE, challenge_digest)
    )
    if (
        challenge is None
        or challenge.consumed_at is not None
        or challenge.expires_at <= now
        or not challenge.user_id
    ):
        await identity.record_failure("auth.2fa.failed", client, detail={"reason": "invalid_challenge"})
        raise Unauthenticated(INVALID_CHALLENGE)
    user_id = challenge.user_id
    attempt = await identity.limiter.attempt(factor.kind, user_id, client.ip)
    answer = await _answer_challenge(identity, challenge, factor, client)
    if isinstance(answer, TokenPair):
        await identity.limiter.succeeded(attempt)
        return answer
    await identity.record_failure(
        "auth.2fa.failed", client, subject_id=user_id, detail={"reason": answer, "factor": factor.kind}
    )
    raise Unauthenticated(INVALID_CODE if answer == "wrong_code" else INVALID_CHALLENGE)


# --- TOTP management by the signed-in user ------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    secret: str
    otpauth_uri: str
    qr_svg: str


def _user_for_update(uow: IdentityUnitOfWork, user_id: str) -> User:
    user = uow.users.get(user_id, for_update=True)
    if user is None:
        raise NotFound("account not found")
    return user


async def enroll_totp(identity: Identity, user_id: str, client: Client) -> Enrollment:
    secret = totp.new_totp_secret()

    def work(uow: IdentityUnitOfWork) -> User:
        user = _user_for_update(uow, user_id)
        if user.totp_enabled:
            # Re-enrolling would replace a working secret without a second factor.
            raise FailedPrecondition("TOTP is already on; turn it off first")
        user.totp_secret_encrypted = identity.secrets.encrypt(secret)
        user.totp_last_step = None
        user.updated_at = identity.now()
        uow.users.save(user)
        identity.record(uow, "user.totp.enrollment_started", client, actor_id=user.id, subject_id=user.id)
        return user

    user = await identity.transactions.run(work)
    uri = totp.provisioning_uri(secret, user.email, identity.policy.totp_issuer)
    svg = await asyncio.to_thread(totp.qr_svg, uri)
    return Enrollment(secret, uri, svg)


async def confirm_totp(identity: Identity, user_id: str, code: str, client: Client) -> list[str]:
    # ConfirmTotpRequest calls the code `code`: the violation names that field.
    factor = Factor.parse("totp", code, field="code")
    attempt = await identity.limiter.attempt("totp", user_id, client.ip)
    backup_codes = new_backup_codes(BACKUP_CODE_COUNT)

    def work(uow: IdentityUnitOfWork) -> bool:
        user = _user_for_update(uow, user_id)
        if user.totp_enabled:
            raise FailedPrecondition("TOTP is already on")
        if not user.totp_secret_encrypted:
            raise FailedPrecondition("no TOTP enrollment pending; call EnrollTotp first")
        if not _accept_factor(uow, identity, user, factor):
            return False
        user.totp_enabled = True
        user.updated_at = identity.now()
        uow.users.save(user)
        uow.backup_codes.replace(user.id, [backup_code_digest(c) for c in backup_codes])
        identity.record(
            uow,
            "user.totp.enabled",
            client,
            actor_id=user.id,
            subject_id=user.id,
            before={"totp_enabled": False},
            after={"totp_enabled": True},
            detail={"backup_codes_left": BACKUP_CODE_COUNT},
        )
        return True

    if not await identity.transactions.run(work):
        await identity.record_failure(
            "user.totp.confirm_failed", client, actor_id=user_id, subject_id=user_id
        )
        raise InvalidArgument.field("code", "does not match the enrolled secret (or was already used)")
    await identity.limiter.succeeded(attempt)
    return backup_codes


async def disable_totp(identity: Identity, user_id: str, factor: Factor, client: Client) -> None:
    attempt = await identity.limiter.attempt(factor.kind, user_id, client.ip)

    def work(uow: IdentityUnitOfWork) -> bool:
        user = _user_for_update(uow, user_id)
        if not user.totp_enabled:
            raise FailedPrecondition("TOTP is not on")
        if not _accept_factor(uow, identity, user, factor):
            return False
        user.totp_enabled = False
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        user.updated_at = identity.now()
        uow.users.save(user)
        uow.backup_codes.delete_all(user.id)
        identity.record(
            uow,
            "user.totp.disabled",
            client,
            actor_id=user.id,
            subject_id=user.id,
            before={"totp_enabled": True},
            after={"totp_enabled": False},
            detail={"factor": factor.kind},
        )
        return True

    if not await identity.transactions.run(work):
        await _refuse_factor(identity, user_id, factor, client, "user.totp.disable_failed")
    await identity.limiter.succeeded(attempt)


async def _refuse_factor(
    identity: Identity, user_id: str, factor: Factor, client: Client, action: str
) -> NoReturn:
    """A wrong or spent second factor (already counted for the lock-out): audited, refused
    naming its field."""
    await identity.record_failure(
        action, client, actor_id=user_id, subject_id=user_id, detail={"factor": factor.kind}
    )
    field = "totp_code" if factor.kind == "totp" else "backup_code"
    raise InvalidArgument.field(field, "is not a valid, unused second factor")


async def regenerate_backup_codes(
    identity: Identity, user_id: str, factor: Factor, client: Client
) -> list[str]:
    """Ten new backup codes in place of the old ones, for a fresh second factor (an old backup
    code works too, and is spent like the rest)."""
    attempt = await identity.limiter.attempt(factor.kind, user_id, client.ip)
    codes = new_backup_codes(BACKUP_CODE_COUNT)

    def work(uow: IdentityUnitOfWork) -> bool:
        user = _user_for_update(uow, user_id)
        if not user.totp_enabled:
            raise FailedPrecondition("TOTP is not on: there are no backup codes to replace")
        if not _accept_factor(uow, identity, user, factor):
            return False
        left = uow.backup_codes.remaining(user.id)
        uow.backup_codes.replace(user.id, [backup_code_digest(c) for c in codes])
        identity.record(
            uow,
            "user.backup_codes.regenerated",
            client,
            actor_id=user.id,
            subject_id=user.id,
            detail={"factor": factor.kind, "replaced_unused": left, "backup_codes_left": BACKUP_CODE_COUNT},
        )
        return True

    if not await identity.transactions.run(work):
        await _refuse_factor(identity, user_id, factor, client, "user.backup_codes.regenerate_failed")
    await identity.limiter.succeeded(attempt)
    return codes
