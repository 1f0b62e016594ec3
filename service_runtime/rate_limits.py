"""Per-plan rate limits per user: N calls of the limited RPCs per window (fixed windows), counted
in Redis when configured (every replica shares the count) or in process memory otherwise.

Why an interceptor in the service rather than Envoy: the limit is per *user* and per *plan*, both
claims of the verified token, and must hold across replicas. Envoy's local_ratelimit counts per
Envoy instance and per route, not per user; its global rate limit needs another service (the
ratelimit server) in front of Redis. The service already has the verified caller (the access
interceptor set it) and Redis, and a call that reaches its port without Envoy is limited too
(zero trust). The edge keeps its coarse per-route buckets (envoy/routes.py) against floods.

Over the limit: RESOURCE_EXHAUSTED (REST 429) with google.rpc.RetryInfo saying when the window
ends. Role "service" is not limited (business calls for many users with one service token);
admins get the highest plan's limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service_runtime.caller import Caller, caller_var
from service_runtime.errors import DependencyUnavailable, TooManyAttempts
from service_runtime.interceptors import _Around, _WrappingInterceptor

Clock = Callable[[], float]
UNLIMITED_ROLES = frozenset({"service"})


class WindowCounter(Protocol):
    async def hit(self, key: str, window: int, window_s: int) -> int:
        """Counts one call of `key` in fixed window number `window`; the count so far."""
        ...

    async def close(self) -> None: ...


class MemoryWindowCounter:
    """One process's counts (a single replica; lost on restart): the `make run` default."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window, count)

    async def hit(self, key: str, window: int, window_s: int) -> int:
        seen, count = self._counts.get(key, (window, 0))
        count = count + 1 if seen == window else 1
        self._counts[key] = (window, count)
        if len(self._counts) > 100_000:  # forget users of windows gone by
            self._counts = {k: v for k, v in self._counts.items() if v[0] >= window}
        return count

    async def close(self) -> None:
        self._counts.clear()


class RedisWindowCounter:
    """Counts in Redis, one key per user and window (INCR, expiring with its window)."""

    def __init__(self, url: str, prefix: str = "trading:ratelimit:ml:") -> None:
        self.client: aioredis.Redis = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix = prefix

    async def hit(self, key: str, window: int, window_s: int) -> int:
        name = f"{self.prefix}{key}:{window}"
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, window_s + 1)
            count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise DependencyUnavailable("rate limit counters unavailable") from exc
        return int(count)

    async def close(self) -> None:
        await self.client.aclose()


def window_counter(redis_url: str) -> WindowCounter:
    return RedisWindowCounter(redis_url) if redis_url else MemoryWindowCounter()


@dataclass(frozen=True)
class PlanRateLimits:
    """Calls per window for each plan; a plan not listed (or none) gets `default`'s."""

    per_plan: Mapping[str, int]
    default_plan: str
    window_s: int

    def limit_of(self, caller: Caller) -> int:
        if "admin" in caller.roles:
            return max(self.per_plan.values())
        return self.per_plan.get(caller.plan, self.per_plan[self.default_plan])


class PlanRateLimiter:
    """Counts a caller's limited calls in fixed windows and refuses the one over its plan's limit.
    The ML engine's interceptor (below) and the gateway's WebSocket bridge (one call per socket
    opened) share it, and through Redis one count per user."""

    def __init__(self, limits: PlanRateLimits, counter: WindowCounter, clock: Clock = time.time) -> None:
        self.limits = limits
        self.counter = counter
        self.clock = clock

    async def admit(self, caller: Caller) -> None:
        """Counts one call of `caller`; raises TooManyAttempts past the plan's limit."""
        if caller.roles & UNLIMITED_ROLES:
            return
        now = self.clock()
        window_s = self.limits.window_s
        window = math.floor(now / window_s)
        limit = self.limits.limit_of(caller)
        count = await self.counter.hit(caller.subject, window, window_s)
        if count > limit:
            retry_after_s = (window + 1) * window_s - now
            raise TooManyAttempts(
                f"rate limit of plan {caller.plan or 'none'}: {limit} ML requests per {window_s} s; "
                f"try again in {math.ceil(retry_after_s)} s",
                retry_after_s,
            )

    async def close(self) -> None:
        await self.counter.close()


class RateLimitInterceptor(_WrappingInterceptor):
    """Limits `methods` per user and plan. Goes inside the access interceptor (it reads the
    verified caller that one sets)."""

    def __init__(
        self,
        limits: PlanRateLimits,
        methods: frozenset[str],
        counter: WindowCounter,
        clock: Clock = time.time,
    ) -> None:
        self.limiter = PlanRateLimiter(limits, counter, clock)
        self.methods = methods

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _RateScope(self, method)

    async def admit(self, method: str) -> None:
        caller = caller_var.get()
        if method in self.methods and caller is not None:
            await self.limiter.admit(caller)


class _RateScope(_Around):
    def __init__(self, owner: RateLimitInterceptor, method: str) -> None:
        self.owner = owner
        self.method = method

    async def __aenter__(self) -> None:
        await self.owner.admit(self.method)
