"""Bursts of concurrent guesses through a real gRPC server. Every try is counted before its secret is
verified, so twenty guesses sent at once get no more of them verified than the lock-out allows (5
per account; the rest are RESOURCE_EXHAUSTED), with the counters in process memory and in Redis,
on SQLite and PostgreSQL. A 2FA challenge's and a texted code's own attempt counts hold the same
way: each try is counted, and committed, before the factor or the code is compared."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterable

import grpc
import pyotp
import pytest

from business.identity.domain import accounts, phone_login
from business.identity.domain.context import Identity
from business.identity.domain.entities import OneTimeCode
from business.identity.domain.one_time_secrets import digest
from business.identity.domain.ports import AttemptCounters
from business.identity.domain.second_factor import LOGIN_CHALLENGE
from business.identity.domain.throttle import AttemptLimiter
from tests.business.identity.conftest import CLIENT, PASSWORD, Outbox, Texts
from tests.business.identity.helpers import registered, signed_in, with_totp
from trading.identity.v1 import auth_service_pb2 as pb
from trading.identity.v1 import auth_service_pb2_grpc as pb_grpc

BURST = 20
LIMIT = 5  # the production defaults: ATTEMPT_LIMIT_PER_ACCOUNT, and a challenge's or a code's attempts
SIGNED_IN = "OK"
LOCKED_OUT = "RESOURCE_EXHAUSTED"


async def _burst(calls: Iterable[Awaitable[object]]) -> Counter[str]:
    """The calls all at once: how many got each answer (a refusal's details, or LOCKED_OUT)."""
    answers: Counter[str] = Counter()
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(outcome, grpc.aio.AioRpcError):
            locked_out = outcome.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            answers[LOCKED_OUT if locked_out else f"{outcome.code().name}: {outcome.details()}"] += 1
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            answers[SIGNED_IN] += 1
    return answers


def _lenient(identity: Identity, counters: AttemptCounters) -> None:
    """Account and address limits out of the way: what is left to hold is the one-time code's own count."""
    identity.limiter = AttemptLimiter(counters, account_limit=1000, ip_limit=1000)


async def test_twenty_wrong_passwords_at_once_get_five_verified(
    channel: grpc.aio.Channel, identity: Identity, counters: AttemptCounters, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity.limiter = AttemptLimiter(counters)
    user = await registered(identity)
    verified = 0
    verify = identity.hasher.verify_async

    async def counting_verify(stored_hash: str | None, password: str) -> bool:
        nonlocal verified
        verified += 1
        return await verify(stored_hash, password)

    monkeypatch.setattr(identity.hasher, "verify_async", counting_verify)
    stub = pb_grpc.AuthServiceStub(channel)
    answers = await _burst(
        stub.Login(pb.LoginRequest(email=user.email, password=f"wrong guess number {n}"))
        for n in range(BURST)
    )
    assert verified == LIMIT
    assert answers == {"UNAUTHENTICATED: invalid email or password": LIMIT, LOCKED_OUT: BURST - LIMIT}
    # The account is locked now: the right password waits too.
    assert await _burst([stub.Login(pb.LoginRequest(email=user.email, password=PASSWORD))]) == {LOCKED_OUT: 1}


async def _challenge(stub: pb_grpc.AuthServiceStub, email: str) -> str:
    reply = await stub.Login(pb.LoginRequest(email=email, password=PASSWORD))
    assert reply.WhichOneof("result") == "challenge"
    return reply.challenge.challenge_token


def _stored_challenge(identity: Identity, token: str) -> OneTimeCode:
    code = identity.transactions.run_sync(
        lambda uow: uow.one_time_codes.by_digest(LOGIN_CHALLENGE, digest(token))
    )
    assert code is not None
    return code


async def test_twenty_wrong_totp_codes_at_once_get_five_verified(
    channel: grpc.aio.Channel, identity: Identity, counters: AttemptCounters
) -> None:
    identity.limiter = AttemptLimiter(counters)
    user, _ = await signed_in(identity)
    secret, _ = await with_totp(identity, user.id)
    stub = pb_grpc.AuthServiceStub(channel)
    token = await _challenge(stub, user.email)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    answers = await _burst(
        stub.VerifySecondFactor(pb.VerifySecondFactorRequest(challenge_token=token, totp_code=wrong))
        for _ in range(BURST)
    )
    assert answers == {"UNAUTHENTICATED: invalid code": LIMIT, LOCKED_OUT: BURST - LIMIT}


async def test_a_challenge_verifies_no_more_factors_than_its_attempts(
    channel: grpc.aio.Channel, identity: Identity, counters: AttemptCounters
) -> None:
    _lenient(identity, counters)
    user, _ = await signed_in(identity)
    _, backup_codes = await with_totp(identity, user.id)
    stub = pb_grpc.AuthServiceStub(channel)
    token = await _challenge(stub, user.email)
    answers = await _burst(
        stub.VerifySecondFactor(
            pb.VerifySecondFactorRequest(challenge_token=token, backup_code="aaaaa-bbbbb")
        )
        for _ in range(BURST)
    )
    assert identity.policy.challenge_max_attempts == LIMIT
    assert answers == {
        "UNAUTHENTICATED: invalid code": LIMIT,  # compared with the backup codes, and wrong
        "UNAUTHENTICATED: invalid or expired challenge": BURST - LIMIT,  # never compared
    }
    assert _stored_challenge(identity, token).attempts == LIMIT
    right = pb.VerifySecondFactorRequest(challenge_token=token, backup_code=backup_codes[0])
    assert await _burst([stub.VerifySecondFactor(right)]) == {
        "UNAUTHENTICATED: invalid or expired challenge": 1
    }
    # Only that challenge is spent: a new one takes the same backup code.
    right.challenge_token = await _challenge(stub, user.email)
    assert await _burst([stub.VerifySecondFactor(right)]) == {SIGNED_IN: 1}


async def test_a_texted_code_is_compared_no_more_than_its_attempts(
    channel: grpc.aio.Channel,
    identity: Identity,
    counters: AttemptCounters,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _lenient(identity, counters)
    user = await registered(identity)
    phone = "+14155550142"
    await accounts.update_me(identity, user.id, None, phone, CLIENT)
    stub = pb_grpc.AuthServiceStub(channel)
    await stub.StartPhoneLogin(pb.StartPhoneLoginRequest(phone_number=phone))
    await identity.drain()
    code = Texts(outbox).code_for(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    compared = 0
    real_digest = phone_login.code_digest

    def counting_digest(value: str, salt: str) -> str:
        nonlocal compared
        compared += 1
        return real_digest(value, salt)

    monkeypatch.setattr(phone_login, "code_digest", counting_digest)
    answers = await _burst(
        stub.VerifyPhoneLogin(pb.VerifyPhoneLoginRequest(phone_number=phone, code=wrong))
        for _ in range(BURST)
    )
    assert identity.policy.sms_code_max_attempts == LIMIT
    assert compared == LIMIT
    assert answers == {"UNAUTHENTICATED: invalid or expired code": BURST}
    right = pb.VerifyPhoneLoginRequest(phone_number=phone, code=code)
    assert await _burst([stub.VerifyPhoneLogin(right)]) == {"UNAUTHENTICATED: invalid or expired code": 1}
