"""Attempt limits, run against in-process counters and against real Redis (the `redis_url` fixture:
TEST_REDIS_URL or a private redis-server; keys under a fresh prefix, deleted afterwards)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from business.identity.adapters.attempt_counters import (
    MemoryAttemptCounters,
    RedisAttemptCounters,
    make_attempt_counters,
)
from business.identity.domain.ports import AttemptCounters
from business.identity.domain.throttle import AttemptLimiter
from service_runtime.errors import DependencyUnavailable, TooManyAttempts

EMAIL = "victim@example.com"
IP = "203.0.113.7"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def redis_counters(url: str, clock: FakeClock) -> AsyncIterator[RedisAttemptCounters]:
    """Counters under a fresh key prefix, removed afterwards."""
    store = RedisAttemptCounters(url, prefix=f"test-throttle-{uuid.uuid4().hex}:", clock=clock)
    try:
        yield store
    finally:
        keys = [key async for key in store.client.scan_iter(match=f"{store.prefix}*")]
        if keys:
            await store.client.delete(*keys)
        await store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[AttemptCounters]:
    if request.param == "memory":
        yield MemoryAttemptCounters(clock=clock)
        return
    async with redis_counters(request.getfixturevalue("redis_url"), clock) as store:
        yield store


def limiter(counters: AttemptCounters, **overrides: float) -> AttemptLimiter:
    settings: dict[str, float] = {
        "account_limit": 3,
        "ip_limit": 5,
        "window_s": 60,
        "base_lock_s": 2,
        "max_lock_s": 10,
    }
    settings.update(overrides)
    return AttemptLimiter(
        counters,
        account_limit=int(settings["account_limit"]),
        ip_limit=int(settings["ip_limit"]),
        window_s=settings["window_s"],
        base_lock_s=settings["base_lock_s"],
        max_lock_s=settings["max_lock_s"],
    )


async def fail(
    limits: AttemptLimiter, times: int, account: str = EMAIL, ip: str = IP, scope: str = "password"
) -> None:
    """`times` tries that went ahead and proved wrong (counted by attempt(), never taken back)."""
    for _ in range(times):
        await limits.attempt(scope, account, ip)


async def retry_after(
    limits: AttemptLimiter, account: str = EMAIL, ip: str = IP, scope: str = "password"
) -> float:
    with pytest.raises(TooManyAttempts) as caught:
        await limits.check(scope, account, ip)
    assert "too many failed attempts; retry in" in caught.value.message
    return caught.value.retry_after_s


async def test_locks_after_the_account_limit(counters: AttemptCounters, clock: FakeClock) -> None:
    limits = limiter(counters)
    await fail(limits, 2)
    await limits.check("password", EMAIL, IP)  # below the limit: still allowed
    await fail(limits, 1)
    assert 0 < await retry_after(limits) <= 2
    clock.advance(1)
    assert 0 < await retry_after(limits) <= 1
    clock.advance(1.01)
    await limits.check("password", EMAIL, IP)  # the lock ended
    await limits.check("password", "someone-else@example.com", "198.51.100.1")  # others never locked
    await limits.check("totp", EMAIL, IP)  # scopes are separate


async def test_each_further_failure_doubles_the_lock_up_to_the_cap(
    counters: AttemptCounters, clock: FakeClock
) -> None:
    limits = limiter(counters)
    await fail(limits, 3)
    assert await retry_after(limits) == pytest.approx(2)
    with pytest.raises(TooManyAttempts):  # refused while locked, and not counted
        await limits.attempt("password", EMAIL, IP)
    for lock in (4, 8, 10, 10):  # each lock's end lets one more try through; 10 is max_lock_s
        clock.advance(await retry_after(limits) + 0.01)
        await fail(limits, 1)
        assert await retry_after(limits) == pytest.approx(lock)
    clock.advance(10.01)
    await limits.check("password", EMAIL, IP)


async def test_failures_outside_the_window_are_forgotten(counters: AttemptCounters, clock: FakeClock) -> None:
    limits = limiter(counters, window_s=60)
    await fail(limits, 2)
    clock.advance(61)
    await fail(limits, 2)
    await limits.check("password", EMAIL, IP)  # 2 in the window, not 4


async def test_the_ip_limit_spans_accounts(counters: AttemptCounters) -> None:
    limits = limiter(counters, account_limit=100, ip_limit=5)
    for n in range(5):
        await limits.attempt("password", f"user{n}@example.com", IP)
    # A fresh account from the same address is refused; the same account from elsewhere is not.
    assert await retry_after(limits, account="fresh@example.com") == pytest.approx(2)
    await limits.check("password", "fresh@example.com", "198.51.100.9")


async def test_success_clears_the_account_but_not_the_ip(counters: AttemptCounters, clock: FakeClock) -> None:
    limits = limiter(counters, ip_limit=6)
    await fail(limits, 2)
    await limits.record_success("password", EMAIL)
    await fail(limits, 2)
    await limits.check("password", EMAIL, IP)  # counting restarted: 2 < 3
    await fail(limits, 1)
    await retry_after(limits)
    await limits.record_success("password", EMAIL)
    await limits.check("password", EMAIL, IP)
    await fail(limits, 1)  # the ip's 6th failure in the window: the ip locks, success does not clear it
    await limits.record_success("password", EMAIL)
    await retry_after(limits)
    await limits.check("password", EMAIL, "198.51.100.9")


async def test_no_ip_means_only_the_account_counts(counters: AttemptCounters) -> None:
    limits = limiter(counters, ip_limit=1)
    await fail(limits, 2, ip="")
    await limits.check("password", EMAIL, "")
    await fail(limits, 1, ip="")
    await retry_after(limits, ip="")


async def test_redis_keys_hold_no_email_or_ip(redis_url: str, clock: FakeClock) -> None:
    async with redis_counters(redis_url, clock) as store:
        limits = limiter(store)
        await fail(limits, 3)
        keys = [key.decode() async for key in store.client.scan_iter(match=f"{store.prefix}*")]
        assert len(keys) == 3  # account failures, ip failures, account lock
        assert any(":lock:acct:" in key for key in keys)
        for key in keys:
            assert EMAIL not in key and "victim" not in key and IP not in key
        for key in keys:
            if await store.client.type(key) == b"zset":
                for member in await store.client.zrange(key, 0, -1):
                    assert b"victim" not in member and IP.encode() not in member


async def test_unreachable_redis_is_a_dependency_error() -> None:
    store = RedisAttemptCounters("redis://127.0.0.1:1/14")
    try:
        with pytest.raises(DependencyUnavailable):
            await AttemptLimiter(store).check("password", EMAIL, IP)
        with pytest.raises(DependencyUnavailable):
            await AttemptLimiter(store).attempt("password", EMAIL, IP)
        with pytest.raises(DependencyUnavailable):
            await AttemptLimiter(store).record_success("password", EMAIL)
    finally:
        await store.close()


def test_make_attempt_counters_picks_the_store() -> None:
    assert isinstance(make_attempt_counters(""), MemoryAttemptCounters)
    assert isinstance(make_attempt_counters("redis://127.0.0.1:1/0"), RedisAttemptCounters)  # never connects


async def test_take_counts_every_use_and_refuses_past_the_limit(
    counters: AttemptCounters, clock: FakeClock
) -> None:
    limits = limiter(counters)  # 3 per account, 5 per ip, lock 2 s doubling
    for _ in range(3):
        await limits.take("mail", EMAIL, IP)
    with pytest.raises(TooManyAttempts, match="too many requests") as refused:
        await limits.take("mail", EMAIL, IP)
    assert refused.value.retry_after_s > 0
    await limits.take("mail", "other@example.com", IP)  # another recipient, same client: 4 of 5
    await limits.take("mail", "third@example.com", IP)
    with pytest.raises(TooManyAttempts):  # the client's sixth
        await limits.take("mail", "fourth@example.com", IP)
    clock.advance(61)  # the window has passed and the locks with it
    await limits.take("mail", EMAIL, IP)


async def passed_of_40_at_once(call: Callable[[], Awaitable[object]]) -> int:
    """How many of 40 concurrent calls the limiter let through."""

    async def one() -> bool:
        try:
            await call()
        except TooManyAttempts:
            return False
        return True

    return sum(await asyncio.gather(*(one() for _ in range(40))))


async def test_a_burst_of_concurrent_takes_lets_exactly_the_limit_through(counters: AttemptCounters) -> None:
    limits = limiter(counters, account_limit=5, ip_limit=1000)
    assert await passed_of_40_at_once(lambda: limits.take("mail", EMAIL, IP)) == 5


async def test_a_burst_of_concurrent_guesses_gets_at_most_the_limit_verified(
    counters: AttemptCounters,
) -> None:
    """Tries are counted before their secret is verified: 40 guesses at once, all of them past
    check() before any failed, still let only the account's limit through."""
    limits = limiter(counters, account_limit=5, ip_limit=1000)
    assert await passed_of_40_at_once(lambda: limits.attempt("password", EMAIL, IP)) == 5
    await retry_after(limits)  # and the account is locked


async def test_after_a_lock_ends_a_burst_gets_one_try(counters: AttemptCounters, clock: FakeClock) -> None:
    limits = limiter(counters, account_limit=3, ip_limit=1000)
    await fail(limits, 3)
    clock.advance(await retry_after(limits) + 0.01)

    async def one() -> bool:
        try:
            await limits.attempt("password", EMAIL, IP)
        except TooManyAttempts:
            return False
        return True

    assert sum(await asyncio.gather(*(one() for _ in range(20)))) == 1


async def test_a_success_takes_its_try_back_from_the_ip_count(counters: AttemptCounters) -> None:
    """Many good sign-ins from one address (an office, a NAT) never lock it; its failures still do."""
    limits = limiter(counters, account_limit=100, ip_limit=3)
    for n in range(10):
        await limits.succeeded(await limits.attempt("password", f"user{n}@example.com", IP))
    await fail(limits, 2)
    await limits.check("password", "fresh@example.com", IP)
    await fail(limits, 1)  # the ip's third failure
    assert await retry_after(limits, account="fresh@example.com") == pytest.approx(2)


async def test_a_success_forgets_the_accounts_failures(counters: AttemptCounters) -> None:
    limits = limiter(counters, account_limit=3, ip_limit=1000)
    await fail(limits, 2)
    await limits.succeeded(await limits.attempt("password", EMAIL, IP))  # the 3rd try, a good one
    await fail(limits, 2)
    await limits.check("password", EMAIL, IP)  # 2 since the success, not 4
