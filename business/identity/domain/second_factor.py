"""Second factor: login challenges, TOTP (RFC 6238) and single-use backup codes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from business.identity.data import repositories as repo
from business.identity.data.tables import OneTimeCode, User
from business.identity.domain import audit, totp
from business.identity.domain.context import Client, Identity
from business.identity.domain.one_time_secrets import (
    backup_code_digest,
    digest,
    new_backup_codes,
    new_opaque_token,
)
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
    def parse(cls, kind: str | None, code: str, field_prefix: str = "") -> Factor:
        if kind not in ("totp", "backup_code"):
            raise InvalidArgument.field(
                f"{field_prefix}totp_code", "a totp_code or a backup_code is required"
            )
        field = f"{field_prefix}{'totp_code' if kind == 'totp' else 'backup_code'}"
        code = code.strip()
        if not code:
            raise InvalidArgument.field(field, "is required")
        if len(code) > MAX_CODE_LENGTH:
            raise InvalidArgument.field(field, f"must be at most {MAX_CODE_LENGTH} characters")
        return cls(kind, code)


def issue_challenge(s: Session, identity: Identity, user: User, method: str, client: Client) -> Challenge:
    """Instead of tokens: an opaque, short-lived challenge, stored as its digest."""
    now = identity.now()
    token = new_opaque_token()
    s.add(
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
    audit.record(s, identity, "auth.2fa.challenged", client, subject_id=user.id, detail={"method": method})
    return Challenge(token, identity.policy.challenge_ttl_s)


def _accept_factor(s: Session, identity: Identity, user: User, factor: Factor) -> bool:
    """Checks and spends the factor (a TOTP step or a backup code) in the caller's transaction.
    Both writes are conditional, so a code cannot be used twice even by concurrent requests."""
    if factor.kind == "backup_code":
        return repo.use_backup_code(s, user.id, backup_code_digest(factor.code), identity.now())
    if not user.totp_secret_encrypted:
        return False
    try:
        secret = identity.secrets.decrypt(user.totp_secret_encrypted)
    except ValueError:
        return False
    step = totp.match_totp(secret, factor.code, user.totp_last_step, now=identity.now().timestamp())
    if step is None:
        return False
    result = s.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    user.totp_last_step = step
    return True


async def verify_second_factor(
    identity: Identity, challenge_token: str, factor: Factor, client: Client
) -> TokenPair:
    token = challenge_token.strip()
    if not token:
        raise InvalidArgument.field("challenge_token", "is required")
    if len(token) > 512:
        raise InvalidArgument.field("challenge_token", "must be at most 512 characters")
    challenge_digest = digest(token)
    now = identity.now()
    challenge = await identity.db.run(lambda s: repo.code_by_digest(s, LOGIN_CHALLENGE, challenge_digest))
    if (
        challenge is None
        or challenge.consumed_at is not None
        or challenge.expires_at <= now
        or not challenge.user_id
    ):
        await audit.record_alone(identity, "auth.2fa.failed", client, detail={"reason": "invalid_challenge"})
        raise Unauthenticated(INVALID_CHALLENGE)
    user_id = challenge.user_id
    await identity.limiter.check(factor.kind, user_id, client.ip)

    def work(s: Session) -> TokenPair:
        user = repo.get_user(s, user_id)
        if user is None or user.status != "active" or not user.totp_enabled:
            raise _Refused("account_unavailable")
        if not repo.consume_code(s, challenge.id, identity.now()):
            raise _Refused("invalid_challenge")
        if not _accept_factor(s, identity, user, factor):
            raise _Refused("wrong_code")  # undoes the consumption above: the challenge stays open
        audit.record(
            s,
            identity,
            "auth.2fa.verified",
            client,
            actor_id=user.id,
            subject_id=user.id,
            detail={"factor": factor.kind, "method": challenge.target},
        )
        return open_session(s, identity, user, challenge.target, client)

    try:
        pair = await identity.db.run(work)
    except _Refused as refused:
        outcome = refused.reason
    else:
        await identity.limiter.record_success(factor.kind, user_id)
        return pair

    def count_failure(s: Session) -> None:
        # The failed try is written on its own: the transaction above wrote nothing (or was undone).
        repo.count_code_attempt(s, challenge.id, identity.policy.challenge_max_attempts, identity.now())
        audit.record(
            s,
            identity,
            "auth.2fa.failed",
            client,
            outcome=audit.FAILED,
            subject_id=user_id,
            detail={"reason": outcome, "factor": factor.kind},
        )

    await identity.db.run(count_failure)
    if outcome == "wrong_code":
        await identity.limiter.record_failure(factor.kind, user_id, client.ip)
        raise Unauthenticated(INVALID_CODE)
    raise Unauthenticated(INVALID_CHALLENGE)


# --- TOTP management by the signed-in user ------------------------------------------------------


@dataclass(frozen=True)
class Enrollment:
    secret: str
    otpauth_uri: str
    qr_svg: str


async def enroll_totp(identity: Identity, user_id: str, client: Client) -> Enrollment:
    secret = totp.new_totp_secret()

    def work(s: Session) -> User:
        user = repo.get_user(s, user_id, lock=True)
        if user is None:
            raise NotFound("account not found")
        if user.totp_enabled:
            # Re-enrolling would replace a working secret without a second factor.
            raise FailedPrecondition("TOTP is already on; turn it off first")
        user.totp_secret_encrypted = identity.secrets.encrypt(secret)
        user.totp_last_step = None
        user.updated_at = identity.now()
        audit.record(
            s, identity, "user.totp.enrollment_started", client, actor_id=user.id, subject_id=user.id
        )
        return user

    user = await identity.db.run(work)
    uri = totp.provisioning_uri(secret, user.email, identity.policy.totp_issuer)
    svg = await asyncio.to_thread(totp.qr_svg, uri)
    return Enrollment(secret, uri, svg)


async def confirm_totp(identity: Identity, user_id: str, code: str, client: Client) -> list[str]:
    factor = Factor.parse("totp", code)
    await identity.limiter.check("totp", user_id, client.ip)
    backup_codes = new_backup_codes(BACKUP_CODE_COUNT)

    def work(s: Session) -> bool:
        user = repo.get_user(s, user_id, lock=True)
        if user is None:
            raise NotFound("account not found")
        if user.totp_enabled:
            raise FailedPrecondition("TOTP is already on")
        if not user.totp_secret_encrypted:
            raise FailedPrecondition("no TOTP enrollment pending; call EnrollTotp first")
        if not _accept_factor(s, identity, user, factor):
            return False
        user.totp_enabled = True
        user.updated_at = identity.now()
        repo.replace_backup_codes(s, user.id, [backup_code_digest(c) for c in backup_codes])
        audit.record(
            s,
            identity,
            "user.totp.enabled",
            client,
            actor_id=user.id,
            subject_id=user.id,
            before={"totp_enabled": False},
            after={"totp_enabled": True},
            detail={"backup_codes_left": BACKUP_CODE_COUNT},
        )
        return True

    if not await identity.db.run(work):
        await identity.limiter.record_failure("totp", user_id, client.ip)
        await audit.record_alone(
            identity, "user.totp.confirm_failed", client, actor_id=user_id, subject_id=user_id
        )
        raise InvalidArgument.field("code", "does not match the enrolled secret (or was already used)")
    await identity.limiter.record_success("totp", user_id)
    return backup_codes


async def disable_totp(identity: Identity, user_id: str, factor: Factor, client: Client) -> None:
    await identity.limiter.check(factor.kind, user_id, client.ip)

    def work(s: Session) -> bool:
        user = repo.get_user(s, user_id, lock=True)
        if user is None:
            raise NotFound("account not found")
        if not user.totp_enabled:
            raise FailedPrecondition("TOTP is not on")
        if not _accept_factor(s, identity, user, factor):
            return False
        user.totp_enabled = False
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        user.updated_at = identity.now()
        repo.delete_backup_codes(s, user.id)
        audit.record(
            s,
            identity,
            "user.totp.disabled",
            client,
            actor_id=user.id,
            subject_id=user.id,
            before={"totp_enabled": True},
            after={"totp_enabled": False},
            detail={"factor": factor.kind},
        )
        return True

    if not await identity.db.run(work):
        await identity.limiter.record_failure(factor.kind, user_id, client.ip)
        await audit.record_alone(
            identity,
            "user.totp.disable_failed",
            client,
            actor_id=user_id,
            subject_id=user_id,
            detail={"factor": factor.kind},
        )
        field = "totp_code" if factor.kind == "totp" else "backup_code"
        raise InvalidArgument.field(field, "is not a valid, unused second factor")
    await identity.limiter.record_success(factor.kind, user_id)
