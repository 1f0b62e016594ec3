"""Failed-attempt limits: lock an account (and a client address) after repeated failures.

Each failure is counted in a sliding window per (scope, account) and per (scope, ip). Reaching
the limit locks for `base_lock_s`, and every further failure doubles the lock, up to
`max_lock_s`: guessing gets exponentially slower while an honest user who mistypes a few times
waits seconds. The ip limit stops one client spraying guesses across many accounts. Keys are
hashed, so the store (Redis) never holds email addresses or IPs in clear.

Counters live in Redis when configured (shared by every replica, survive restarts) and in
process memory otherwise. Both take an injectable `clock` (unix seconds) for tests.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service_runtime.errors import DependencyUnavailable, TooManyAttempts

Clock = Callable[[], float]
_MAX_DOUBLINGS = 60  # 2**60 * any sane base exceeds any cap; avoids float overflow


class AttemptCounters(Protocol):
    """Storage for failure counts (sliding window) and locks (until a time)."""

    async def add_failure(self, key: str, window_s: float) -> int:
        """Record one failure now; return the failures within the last `window_s`."""
        ...

    async def lock(self, key: str, seconds: float) -> None: ...

    async def lock_remaining(self, keys: Sequence[str]) -> float:
        """Seconds until the longest of the locks on `keys` ends; 0 when none is locked."""
        ...

    async def clear(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class MemoryAttemptCounters:
    """In-process counters (one replica, lost on restart); expired entries are swept."""

    _SWEEP_EVERY = 1024

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._failures: dict[str, tuple[float, deque[float]]] = {}
        self._locks: dict[str, float] = {}
        self._ops = 0

    async def add_failure(self, key: str, window_s: float) -> int:
        now = self.clock()
        self._maybe_sweep(now)
        _, stamps = self._failures.get(key, (window_s, deque()))
        stamps.append(now)
        while stamps and stamps[0] <= now - window_s:
            stamps.popleft()
        self._failures[key] = (window_s, stamps)
        return len(stamps)

    async def lock(self, key: str, seconds: float) -> None:
        until = self.clock() + seconds
        self._locks[key] = max(until, self._locks.get(key, 0.0))

    async def lock_remaining(self, keys: Sequence[str]) -> float:
        now = self.clock()
        return max([0.0, *(self._locks.get(k, 0.0) - now for k in keys)])

    async def clear(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
            self._locks.pop(key, None)

    async def close(self) -> None:
        self._failures.clear()
        self._locks.clear()

    def _maybe_sweep(self, now: float) -> None:
        self._ops += 1
        if self._ops % self._SWEEP_EVERY:
            return
        self._locks = {k: until for k, until in self._locks.items() if until > now}
        self._failures = {k: v for k, v in self._failures.items() if v[1] and v[1][-1] > now - v[0]}


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise DependencyUnavailable("attempt counters unavailable") from exc


class RedisAttemptCounters:
    """Counters in Redis: failures in a sorted set of timestamps, locks as "until" values with a TTL."""

    def __init__(
        self,
        url: str = "",
        *,
        prefix: str = "identity:attempts:",
        clock: Clock = time.time,
        client: aioredis.Redis | None = None,
    ) -> None:
        """Connects to `url`, or uses a shared `client` (which close() then leaves open)."""
        self._owns_client = client is None
        self.client: aioredis.Redis = client or aioredis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2
        )
        self.prefix = prefix
        self.clock = clock

    async def add_failure(self, key: str, window_s: float) -> int:
        now = self.clock()
        name = self.prefix + key
        with _redis_errors():
            pipe = self.client.pipeline(transaction=True)
            pipe.zremrangebyscore(name, "-inf", now - window_s)
            pipe.zadd(name, {f"{now!r}:{secrets.token_hex(4)}": now})
            pipe.zcard(name)
            pipe.expire(name, math.ceil(window_s) + 1)
            results = await pipe.execute()
        return int(results[2])

    async def lock(self, key: str, seconds: float) -> None:
        until = self.clock() + seconds
        with _redis_errors():
            await self.client.set(self.prefix + key, repr(until), px=max(1, math.ceil(seconds * 1000)))

    async def lock_remaining(self, keys: Sequence[str]) -> float:
        if not keys:
            return 0.0
        with _redis_errors():
            values = await self.client.mget([self.prefix + k for k in keys])
        now = self.clock()
        return max([0.0, *(float(v) - now for v in values if v is not None)])

    async def clear(self, keys: Sequence[str]) -> None:
        if keys:
            with _redis_errors():
                await self.client.delete(*(self.prefix + k for k in keys))

    async def close(self) -> None:
        if self._owns_client:
            await self.client.aclose()


def make_attempt_counters(redis_url: str, *, clock: Clock = time.time) -> AttemptCounters:
    """Redis counters when `redis_url` is set, in-process ones otherwise."""
    if redis_url:
        return RedisAttemptCounters(redis_url, clock=clock)
    return MemoryAttemptCounters(clock=clock)


def _hashed(kind: str, scope: str, value: str) -> str:
    digest = hashlib.sha256((scope + "\0" + value).encode("utf-8")).hexdigest()[:32]
    return f"{kind}:{scope}:{digest}"


class AttemptLimiter:
    """check() before verifying a secret; record_failure()/record_success() after."""

    def __init__(
        self,
        counters: AttemptCounters,
        *,
        account_limit: int = 5,
        ip_limit: int = 20,
        window_s: float = 900,
        base_lock_s: float = 2,
        max_lock_s: float = 900,
    ) -> None:
        self.counters = counters
        self.account_limit = account_limit
        self.ip_limit = ip_limit
        self.window_s = window_s
        self.base_lock_s = base_lock_s
        self.max_lock_s = max_lock_s

    async def check(self, scope: str, account_key: str, ip: str) -> None:
        """Raise TooManyAttempts while the account or the ip is locked for `scope`."""
        keys = [_hashed("lock:acct", scope, account_key)]
        if ip:
            keys.append(_hashed("lock:ip", scope, ip))
        remaining = await self.counters.lock_remaining(keys)
        if remaining > 0:
            retry_after = math.ceil(remaining * 1000) / 1000
            raise TooManyAttempts(f"too many failed attempts; retry in {math.ceil(remaining)} s", retry_after)

    async def record_failure(self, scope: str, account_key: str, ip: str) -> None:
        await self._count(scope, "acct", account_key, self.account_limit)
        if ip:
            await self._count(scope, "ip", ip, self.ip_limit)

    async def record_success(self, scope: str, account_key: str) -> None:
        """Forget the account's failures (and any lock) for `scope`."""
        await self.counters.clear(
            [_hashed("fail:acct", scope, account_key), _hashed("lock:acct", scope, account_key)]
        )

    def lock_seconds(self, failures: int, limit: int) -> float:
        """base_lock_s at the limit, doubling with each further failure, capped at max_lock_s."""
        return min(self.max_lock_s, self.base_lock_s * 2.0 ** min(failures - limit, _MAX_DOUBLINGS))

    async def _count(self, scope: str, kind: str, value: str, limit: int) -> None:
        failures = await self.counters.add_failure(_hashed(f"fail:{kind}", scope, value), self.window_s)
        if failures >= limit:
            await self.counters.lock(
                _hashed(f"lock:{kind}", scope, value), self.lock_seconds(failures, limit)
            )
