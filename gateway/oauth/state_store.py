"""Server-side storage of pending sign-ins, keyed by the `state` sent to the provider.

The state is the browser's only link to the PKCE verifier and the OIDC nonce, so it must be
unguessable, expire, and work exactly once: `take` removes it atomically (Redis GETDEL), so
a replayed callback finds nothing, even when two gateway replicas race for it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Protocol

import redis.asyncio as aioredis
import redis.exceptions

from gateway.oauth.errors import OAuthFlowError

KEY_PREFIX = "trading:oauth:state:"
# A flood of /start calls must not grow the in-process store without bound.
MEMORY_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class PendingLogin:
    """What /start remembers for /callback."""

    provider: str
    code_verifier: str
    nonce: str
    redirect_uri: str
    created_at: float
    # sha256 of the cookie /start set: the callback must come from the same browser.
    binding_digest: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> PendingLogin:
        return cls(**json.loads(raw))


class StateStore(Protocol):
    async def put(self, state: str, pending: PendingLogin, ttl_s: int) -> None: ...

    async def take(self, state: str) -> PendingLogin | None:
        """The pending sign-in of `state`, removed; None when unknown, expired or already taken."""

    async def close(self) -> None: ...


def _key(state: str) -> str:
    # The state is a bearer secret for the next ten minutes: keep it out of key listings.
    return KEY_PREFIX + hashlib.sha256(state.encode()).hexdigest()


class MemoryStateStore:
    """In process: enough for one gateway process (local runs)."""

    def __init__(self, max_entries: int = MEMORY_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, PendingLogin]] = OrderedDict()

    def _purge(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)  # the oldest pending sign-in gives way

    async def put(self, state: str, pending: PendingLogin, ttl_s: int) -> None:
        now = time.monotonic()
        self._purge(now)
        self._entries[_key(state)] = (now + ttl_s, pending)

    async def take(self, state: str) -> PendingLogin | None:
        # No await between lookup and removal: atomic within the event loop.
        entry = self._entries.pop(_key(state), None)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    async def close(self) -> None:
        self._entries.clear()


class RedisStateStore:
    """Shared by every gateway replica; Redis expires entries by itself."""

    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def put(self, state: str, pending: PendingLogin, ttl_s: int) -> None:
        try:
            await self._redis.set(_key(state), pending.to_json(), ex=ttl_s)
        except redis.exceptions.RedisError as exc:
            raise OAuthFlowError(503, "sign-in is unavailable: the state store cannot be reached") from exc

    async def take(self, state: str) -> PendingLogin | None:
        try:
            raw = await self._redis.getdel(_key(state))
        except redis.exceptions.RedisError as exc:
            raise OAuthFlowError(503, "sign-in is unavailable: the state store cannot be reached") from exc
        return None if raw is None else PendingLogin.from_json(raw)

    async def close(self) -> None:
        await self._redis.aclose()


def make_state_store(redis_url: str) -> StateStore:
    return RedisStateStore(redis_url) if redis_url else MemoryStateStore()
