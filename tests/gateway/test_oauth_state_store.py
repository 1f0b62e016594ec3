"""The pending sign-in store: a state works once, expires, and stays out of key listings.

Redis: the `redis_url` fixture (TEST_REDIS_URL or a private redis-server); every key a test
wrote is deleted afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.oauth.errors import OAuthFlowError
from gateway.oauth.state_store import KEY_PREFIX, MemoryStateStore, PendingLogin, RedisStateStore, StateStore

PENDING = PendingLogin(
    provider="google",
    code_verifier="v" * 64,
    nonce="n" * 43,
    redirect_uri="http://edge/api/auth/oauth/google/callback",
    created_at=1_700_000_000.5,
    binding_digest="b" * 64,
)


def _key(state: str) -> str:
    return KEY_PREFIX + hashlib.sha256(state.encode()).hexdigest()


class CleanRedisStateStore(RedisStateStore):
    """Deletes every key it wrote when closed: the Redis may be shared (TEST_REDIS_URL)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url
        self.written: set[str] = set()

    async def put(self, state: str, pending: PendingLogin, ttl_s: int) -> None:
        self.written.add(_key(state))
        await super().put(state, pending, ttl_s)

    async def close(self) -> None:
        if self.written:
            client = aioredis.Redis.from_url(self.url)
            await client.delete(*self.written)
            await client.aclose()
        await super().close()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    redis_store = CleanRedisStateStore(request.getfixturevalue("redis_url"))
    yield redis_store
    await redis_store.close()


def _state() -> str:
    return secrets.token_urlsafe(32)


async def test_a_state_is_taken_once(store: StateStore) -> None:
    state = _state()
    await store.put(state, PENDING, ttl_s=600)
    assert await store.take(state) == PENDING
    assert await store.take(state) is None


async def test_an_unknown_state_finds_nothing(store: StateStore) -> None:
    await store.put(_state(), PENDING, ttl_s=600)
    assert await store.take(_state()) is None
    assert await store.take("") is None


async def test_concurrent_takes_of_one_state_have_one_winner(store: StateStore) -> None:
    state = _state()
    await store.put(state, PENDING, ttl_s=600)
    results = await asyncio.gather(*(store.take(state) for _ in range(20)))
    assert [r for r in results if r is not None] == [PENDING]


async def test_memory_state_expires() -> None:
    store = MemoryStateStore()
    state = _state()
    await store.put(state, PENDING, ttl_s=0)  # already past its lifetime
    assert await store.take(state) is None


async def test_memory_store_is_bounded() -> None:
    store = MemoryStateStore(max_entries=3)
    states = [_state() for _ in range(5)]
    for state in states:
        await store.put(state, PENDING, ttl_s=600)
    # The oldest pending sign-ins gave way to the newest.
    assert [await store.take(s) is not None for s in states] == [False, False, True, True, True]


async def test_redis_keys_are_prefixed_hashed_and_expire(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    store = CleanRedisStateStore(redis_url)
    state = _state()
    try:
        await store.put(state, PENDING, ttl_s=600)
        key = _key(state)
        assert 0 < await client.ttl(key) <= 600
        assert not [k async for k in client.scan_iter(match=f"*{state}*")]  # the state itself is not stored
        assert await store.take(state) == PENDING
        assert not await client.exists(key)
    finally:
        await store.close()
        await client.aclose()


async def test_redis_down_is_a_clean_503() -> None:
    store = RedisStateStore("redis://127.0.0.1:1/13")
    try:
        with pytest.raises(OAuthFlowError) as raised:
            await store.put(_state(), PENDING, ttl_s=600)
        assert raised.value.status == 503 and "state store" in raised.value.message
        with pytest.raises(OAuthFlowError):
            await store.take(_state())
    finally:
        await store.close()
