"""Sign-in by a code texted to the account's phone number."""

from __future__ import annotations

import hmac
import uuid
from datetime import timedelta

from business.audit.domain import Client
from business.identity.domain.accounts import complete_sign_in
from business.identity.domain.context import Identity
from business.identity.domain.entities import OneTimeCode
from business.identity.domain.one_time_secrets import code_digest, new_numeric_code, new_salt
from business.identity.domain.ports import IdentityUnitOfWork
from business.identity.domain.sessions import SignInResult
from business.identity.domain.validation import normalize_phone
from service_runtime.errors import InvalidArgument, Unauthenticated

PHONE_LOGIN = "phone_login"
SEND_SCOPE = "sms_send"
CODE_SCOPE = "sms_code"
INVALID_CODE = "invalid or expired code"


async def start_phone_login(identity: Identity, phone_number: str, client: Client) -> int:
    """Texts a code if an active account has this number; the answer never says whether."""
    phone = normalize_phone(phone_number)
    # Each request counts, known number or not: texts cost money and annoy their receivers.
    await identity.sends.take(SEND_SCOPE, phone, client.ip)
    ttl = identity.policy.sms_code_ttl_s
    code = new_numeric_code()

    def work(uow: IdentityUnitOfWork) -> bool:
        user = uow.users.by_phone(phone)
        if user is None or not user.is_active:
            return False
        now = identity.now()
        uow.one_time_codes.retire(PHONE_LOGIN, now, target=phone)
        salt = new_salt()
        uow.one_time_codes.add(
            OneTimeCode(
                id=str(uuid.uuid4()),
                user_id=user.id,
                purpose=PHONE_LOGIN,
                digest=code_digest(code, salt),
                salt=salt,
                target=phone,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        identity.record(uow, "auth.phone.code_sent", client, subject_id=user.id)
        return True

    if await identity.transactions.run(work):
        body = (
            f"Your {identity.policy.totp_issuer} sign-in code is {code}. It expires in {ttl // 60} minutes."
        )
        # Not awaited, so a known number answers as fast as an unknown one.
        identity.in_background(identity.sms.send(phone, body), "sign-in SMS")
    return ttl


def _open_code_counted(uow: IdentityUnitOfWork, identity: Identity, phone: str) -> OneTimeCode | None:
    """The open code texted to `phone`, with this try counted against its attempts first (the
    count is committed before the code is compared, so concurrent guesses cannot get past
    sms_code_max_attempts); None when there is none or its attempts are spent."""
    stored = uow.one_time_codes.latest_open(PHONE_LOGIN, phone, identity.now())
    if stored is None or not stored.user_id:
        return None
    if not uow.one_time_codes.count_attempt(stored.id, identity.policy.sms_code_max_attempts, identity.now()):
        return None
    return stored


async def verify_phone_login(
    identity: Identity, phone_number: str, code: str, client: Client
) -> SignInResult:
    phone = normalize_phone(phone_number)
    code = code.strip()
    if not code:
        raise InvalidArgument.field("code", "is required")
    if len(code) > 16:
        raise InvalidArgument.field("code", "must be at most 16 characters")
    attempt = await identity.limiter.attempt(CODE_SCOPE, phone, client.ip)
    stored = await identity.transactions.run(lambda uow: _open_code_counted(uow, identity, phone))
    if stored is None or not hmac.compare_digest(stored.digest, code_digest(code, stored.salt)):
        await identity.record_failure(
            "auth.phone.failed",
            client,
            subject_id=stored.user_id or "" if stored else "",
            detail={"reason": "wrong_code" if stored else "no_open_code"},
        )
        raise Unauthenticated(INVALID_CODE)
    user_id = stored.user_id or ""  # never empty: _open_code_counted returns codes of a user

    def work(uow: IdentityUnitOfWork) -> SignInResult:
        if not uow.one_time_codes.consume(stored.id, identity.now()):
            raise Unauthenticated(INVALID_CODE)
        user = uow.users.get(user_id, for_update=True)
        if user is None or user.phone_number != phone:
            raise Unauthenticated(INVALID_CODE)
        if not user.phone_verified:
            user.phone_verified = True
            user.updated_at = identity.now()
            uow.users.save(user)
        identity.record(
            uow,
            "auth.phone.verified",
            client,
            actor_id=user.id,
            subject_id=user.id,
            after={"phone_verified": True},
        )
        return complete_sign_in(uow, identity, user.id, "phone", client)

    result = await identity.transactions.run(work)
    await identity.limiter.succeeded(attempt)
    return result
