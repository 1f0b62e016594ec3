"""Where failed attempts are counted (the domain's `AttemptCounters` port, see
identity/domain/throttle.py): Redis when configured (shared by every replica, survive restarts),
process memory otherwise. Both take an injectable `clock` (unix seconds) for tests.
"""

from __future__ import annotations

import itertools
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from business.identity.domain.ports import AttemptCounters
from service_runtime.errors import DependencyUnavailable

Clock = Callable[[], float]


class MemoryAttemptCounters:
    """In-process counters (one replica, lost on restart); expired entries are swept."""

    _SWEEP_EVERY = 1024

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        # key -> (window, the failures' (time, entry) oldest first)
        self._failures: dict[str, tuple[float, deque[tuple[float, str]]]] = {}
        self._locks: dict[str, float] = {}
        self._ops = 0
        self._entries = itertools.count()

    async def add_failure(self, key: str, window_s: float) -> tuple[int, str]:
        now = self.clock()
        self._maybe_sweep(now)
        _, stamps = self._failures.get(key, (window_s, deque()))
        entry = str(next(self._entries))
        stamps.append((now, entry))
        while stamps and stamps[0][0] <= now - window_s:
            stamps.popleft()
        self._failures[key] = (window_s, stamps)
        return len(stamps), entry

    async def forget(self, key: str, entry: str) -> None:
        if key in self._failures:
            window_s, stamps = self._failures[key]
            self._failures[key] = (window_s, deque(s for s in stamps if s[1] != entry))

    async def lock(self, key: str, seconds: float) -> None:
        until = self.clock() + seconds
        self._locks[key] = max(until, self._locks.get(key, 0.0))

    async def lock_if_free(self, key: str, seconds: float) -> bool:
        # No await between the test and the write: one event loop, so one caller wins.
        now = self.clock()
        if self._locks.get(key, 0.0) > now:
            return False
        self._locks[key] = now + seconds
        return True

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
        self._failures = {k: v for k, v in self._failures.items() if v[1] and v[1][-1][0] > now - v[0]}


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise DependencyUnavailable("attempt counters unavailable") from exc


# The test and the write in one step (a script runs alone): a lock is running while its "until"
# is later than now, by the same clock as lock_remaining's.
_LOCK_IF_FREE = """
local running_until = tonumber(redis.call('GET', KEYS[1]) or '0')
if running_until > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


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

    async def add_failure(self, key: str, window_s: float) -> tuple[int, str]:
        now = self.clock()
        name = self.prefix + key
        entry = f"{now!r}:{secrets.token_hex(4)}"
        with _redis_errors():
            pipe = self.client.pipeline(transaction=True)
            pipe.zremrangebyscore(name, "-inf", now - window_s)
            pipe.zadd(name, {entry: now})
            pipe.zcard(name)
            pipe.expire(name, math.ceil(window_s) + 1)
            results = await pipe.execute()
        return int(results[2]), entry

    async def forget(self, key: str, entry: str) -> None:
        with _redis_errors():
            await self.client.zrem(self.prefix + key, entry)

    async def lock(self, key: str, seconds: float) -> None:
        until = self.clock() + seconds
        with _redis_errors():
            await self.client.set(self.prefix + key, repr(until), px=max(1, math.ceil(seconds * 1000)))

    async def lock_if_free(self, key: str, seconds: float) -> bool:
        now = self.clock()
        with _redis_errors():
            taken = await self.client.eval(
                _LOCK_IF_FREE,
                1,
                self.prefix + key,
                repr(now),
                repr(now + seconds),
                max(1, math.ceil(seconds * 1000)),
            )
        return bool(taken)

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
