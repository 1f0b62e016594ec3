"""The per-RPC authorization every service enforces: rules from the protos, deny by default,
roles, plans and revoked tokens (in memory and in Redis: the `redis_url` fixture, TEST_REDIS_URL
or a private redis-server; the keys a test wrote are deleted afterwards)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from service_runtime.access import (
    KEYS_MAX_AGE_S,
    AccessInterceptor,
    TokenVerifier,
    access_rules,
    keys_from_folder,
)
from service_runtime.caller import Caller
from service_runtime.contracts import platform_services
from service_runtime.errors import PermissionDenied, Unauthenticated
from service_runtime.revocations import KEY_PREFIX, MemoryRevocations, RedisRevocations, Revocations
from service_runtime.signing_keys import KEEP_KEYS, SigningKeyStore
from trading.common.v1 import access_pb2

ISSUER, AUDIENCE = "trading-platform", "trading-api"


def test_every_platform_rpc_declares_a_consistent_rule() -> None:
    rules = access_rules(platform_services())
    assert rules["/trading.identity.v1.AuthService/Login"].public
    assert list(rules["/trading.identity.v1.UserAdminService/SuspendUser"].roles) == ["admin"]
    assert list(rules["/trading.identity.v1.AuthService/CompleteOAuthLogin"].roles) == ["service"]
    assert not rules["/trading.market.v1.MarketDataService/GetHistory"].public


def test_a_service_without_rules_refuses_to_start() -> None:
    # grpc.health.v1.Health is a real service whose methods carry no AccessRule.
    from grpc_health.v1 import health_pb2  # noqa: F401  (registers the descriptor)

    with pytest.raises(ValueError, match="declares no"):
        access_rules(["grpc.health.v1.Health"])


class FakeContext:
    """The two things the interceptor reads from a grpc.aio context."""

    def __init__(self, token: str | None = None) -> None:
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def invocation_metadata(self) -> Any:
        return self.metadata


@pytest.fixture
def keys(tmp_path: Path) -> SigningKeyStore:
    store = SigningKeyStore(tmp_path / "keys")
    store.ensure()
    return store


def sign(keys: SigningKeyStore, **overrides: Any) -> str:
    now = time.time()
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "roles": ["user"],
        "plan": "free",
        "iat": now,
        "nbf": int(now),
        "exp": int(now) + 900,
        "jti": uuid.uuid4().hex,
        "sid": "s1",
    }
    claims.update(overrides)
    return keys.sign(claims)


def interceptor(keys: SigningKeyStore, revocations: Revocations | None = None) -> AccessInterceptor:
    rules = {
        "/trading.x.v1.S/Open": access_pb2.AccessRule(public=True),
        "/trading.x.v1.S/Users": access_pb2.AccessRule(roles=["user", "admin"]),
        "/trading.x.v1.S/Admins": access_pb2.AccessRule(roles=["admin"]),
        "/trading.x.v1.S/Pro": access_pb2.AccessRule(roles=["user", "service"], plans=["pro"]),
    }
    return AccessInterceptor(
        TokenVerifier(keys_from_folder(keys.folder), ISSUER, AUDIENCE), rules, revocations
    )


async def test_rules_are_enforced(keys: SigningKeyStore) -> None:
    guard = interceptor(keys)
    assert await guard.admit("/trading.x.v1.S/Open", FakeContext()) is None
    with pytest.raises(Unauthenticated):
        await guard.admit("/trading.x.v1.S/Users", FakeContext())
    caller = await guard.admit("/trading.x.v1.S/Users", FakeContext(sign(keys)))
    assert caller is not None and caller.subject == "u1" and caller.session_id == "s1"
    with pytest.raises(PermissionDenied, match="admin"):
        await guard.admit("/trading.x.v1.S/Admins", FakeContext(sign(keys)))
    assert await guard.admit("/trading.x.v1.S/Admins", FakeContext(sign(keys, roles=["admin"])))
    with pytest.raises(PermissionDenied, match="plan pro"):
        await guard.admit("/trading.x.v1.S/Pro", FakeContext(sign(keys)))
    assert await guard.admit("/trading.x.v1.S/Pro", FakeContext(sign(keys, plan="pro")))
    # No plan check applies to admins and services (a service token carries no plan).
    assert await guard.admit("/trading.x.v1.S/Pro", FakeContext(sign(keys, roles=["user", "admin"])))
    assert await guard.admit("/trading.x.v1.S/Pro", FakeContext(sign(keys, roles=["service"], plan="")))
    # Deny by default: a method with no rule is refused even with a valid admin token.
    with pytest.raises(PermissionDenied):
        await guard.admit("/trading.x.v1.S/Unknown", FakeContext(sign(keys, roles=["admin"])))
    # Infrastructure (health, reflection) is not the platform's API.
    assert await guard.admit("/grpc.health.v1.Health/Check", FakeContext()) is None


class CleanRedisRevocations(RedisRevocations):
    """Deletes the keys of every subject and session it revoked when closed: the Redis may be
    shared (TEST_REDIS_URL)."""

    def __init__(self, url: str, ttl_s: float) -> None:
        super().__init__(url, ttl_s)
        self.revoked: list[str] = []

    async def revoke_subject(self, subject: str) -> None:
        self.revoked.append(subject)
        await super().revoke_subject(subject)

    async def revoke_session(self, session_id: str) -> None:
        self.revoked.append(session_id)
        await super().revoke_session(session_id)

    async def close(self) -> None:
        for value in self.revoked:
            keys = [key async for key in self.client.scan_iter(match=f"{KEY_PREFIX}*{value}")]
            if keys:
                await self.client.delete(*keys)
        await super().close()


@pytest.fixture(params=["memory", "redis"])
async def revocations(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        yield MemoryRevocations(ttl_s=60)
        return
    store = CleanRedisRevocations(request.getfixturevalue("redis_url"), ttl_s=60)
    yield store
    await store.close()


async def test_revocations(keys: SigningKeyStore, revocations: Revocations) -> None:
    guard = interceptor(keys, revocations)
    subject, session = uuid.uuid4().hex, uuid.uuid4().hex
    before = sign(keys, sub=subject, sid=session)
    other_session = sign(keys, sub=subject, sid=uuid.uuid4().hex)
    assert await guard.admit("/trading.x.v1.S/Users", FakeContext(before))

    await revocations.revoke_session(session)
    with pytest.raises(Unauthenticated, match="revoked"):
        await guard.admit("/trading.x.v1.S/Users", FakeContext(before))
    assert await guard.admit("/trading.x.v1.S/Users", FakeContext(other_session))

    await revocations.revoke_subject(subject)
    with pytest.raises(Unauthenticated, match="revoked"):
        await guard.admit("/trading.x.v1.S/Users", FakeContext(other_session))
    # Tokens issued after the revocation (a reinstated user signing in again) work.
    after = sign(keys, sub=subject, sid=uuid.uuid4().hex, iat=time.time() + 0.001)
    assert await guard.admit("/trading.x.v1.S/Users", FakeContext(after))
    assert not await revocations.is_revoked(Caller("someone-else", frozenset({"user"}), "free", issued_at=0))


def test_a_verified_token_is_remembered_until_it_expires(
    keys: SigningKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(keys_from_folder(keys.folder), ISSUER, AUDIENCE)
    now = time.time()
    token = sign(keys, exp=int(now) + 60)
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # from memory: no second signature check
    # Past its expiry the remembered caller is dropped and the token checked again (a new caller;
    # PyJWT's own clock is not the patched one, so this check still passes it).
    monkeypatch.setattr(time, "time", lambda: now + 120)
    again = verifier.verify(token)
    assert again is not first and again == first
    monkeypatch.undo()
    # Keys re-read (a rotation): a token verified with a key no longer published is checked again.
    verifier._public = keys_from_folder(keys.folder)()
    assert verifier.verify(token) is not again
    # Expired or forged tokens are refused as before, however often they are presented.
    expired = sign(keys, iat=now - 120, nbf=int(now) - 120, exp=int(now) - 60)
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="expired"):
            verifier.verify(expired)
        with pytest.raises(Unauthenticated):
            verifier.verify(forged)


def test_tokens_verified_at_once_while_the_keys_are_first_read_all_pass(keys: SigningKeyStore) -> None:
    # Many sockets or calls arriving together: the first verification reads the keys (slowly
    # here), the others must wait for that read rather than find the kid unknown.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    read = keys_from_folder(keys.folder)
    started = threading.Event()

    def slow_read() -> Any:
        started.set()
        time.sleep(0.2)
        return read()

    verifier = TokenVerifier(slow_read, ISSUER, AUDIENCE)
    tokens = [sign(keys, sub=f"user-{n}") for n in range(4)]
    with ThreadPoolExecutor(len(tokens)) as pool:
        first = pool.submit(verifier.verify, tokens[0])
        started.wait(5)
        callers = [pool.submit(verifier.verify, token) for token in tokens[1:]]
        subjects = [first.result().subject] + [c.result().subject for c in callers]
    assert subjects == [f"user-{n}" for n in range(4)]


def test_the_keys_are_read_again_as_often_as_envoy_reads_the_jwks() -> None:
    from envoy.http_filters import JWKS_CACHE_S

    assert KEYS_MAX_AGE_S == JWKS_CACHE_S


def test_a_key_taken_out_of_the_jwks_stops_verifying_once_the_keys_are_old(keys: SigningKeyStore) -> None:
    read = keys_from_folder(keys.folder)
    reads: list[float] = []

    def counting_read() -> Any:
        reads.append(time.monotonic())
        return read()

    verifier = TokenVerifier(counting_read, ISSUER, AUDIENCE, keys_max_age_s=1.0)
    (old_kid,) = read()
    remembered = sign(keys)
    verifier.verify(remembered)
    # Within the keys' age the hot path reads nothing, however many tokens it verifies.
    for _ in range(20):
        verifier.verify(sign(keys))
    assert len(reads) == 1
    old_key = keys._load(keys.folder / f"{old_kid}.pem")
    for _ in range(KEEP_KEYS):
        keys.rotate()  # the old key leaves the folder, and so the JWKS
    assert old_kid not in read()
    time.sleep(1.1)
    # Signed with the withdrawn key after it was withdrawn (a leaked key, say): refused, as is the
    # token verified and remembered while the key was published.
    minted = jwt.encode(
        {**jwt.decode(remembered, options={"verify_signature": False}), "sub": "intruder"},
        old_key,
        algorithm="EdDSA",
        headers={"kid": old_kid},
    )
    for token in (minted, remembered):
        with pytest.raises(Unauthenticated, match="unknown key"):
            verifier.verify(token)
    assert len(reads) == 2
    assert verifier.verify(sign(keys)).subject == "u1"  # the keys published now verify


def test_keys_that_cannot_be_read_again_stay_until_a_read_succeeds(keys: SigningKeyStore) -> None:
    read = keys_from_folder(keys.folder)
    failing = False

    def flaky_read() -> Any:
        if failing:
            raise OSError("connection refused")
        return read()

    verifier = TokenVerifier(flaky_read, ISSUER, AUDIENCE, keys_max_age_s=0.2)
    token = sign(keys)
    verifier.verify(token)
    failing = True
    time.sleep(0.3)
    assert verifier.verify(token).subject == "u1"  # the publisher briefly away: no refusals
    failing = False
    kid = keys.rotate()
    time.sleep(0.3)  # past the failed read's retry delay (at most the keys' age here)
    fresh = sign(keys)
    assert jwt.get_unverified_header(fresh)["kid"] == kid  # signed by a key read only now
    assert verifier.verify(fresh).subject == "u1"
