"""Access tokens that must stop working before they expire: a suspended user's, the tokens of a
session that was logged out or revoked, and every token issued before a password reset.

Access tokens are short-lived (JWT_ACCESS_TTL_S), so an entry only has to outlive the tokens
it covers. Every service must see the same list (the business service writes it; the ML engine
and the gateway's WebSocket bridge read it): through Redis when it is configured, else through
one SQLite file all processes of a single-machine run open (the `make run` default).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis
import redis.exceptions

from service_runtime.caller import Caller
from service_runtime.errors import DependencyUnavailable

KEY_PREFIX = "trading:revoked:"
# Keys read by one MGET at most (a few thousand keep one Redis command short).
REDIS_MGET_KEYS = 2000


def revoked_by(caller: Caller, subject_revoked_at: float | None, session_revoked: bool) -> bool:
    """The rule every store applies: a revoked session ends all its tokens, a revoked subject the
    tokens issued until then (a token issued after it, once reinstated, stays good)."""
    return session_revoked or (subject_revoked_at is not None and caller.issued_at <= subject_revoked_at)


def revocation_keys(caller: Caller) -> list[str]:
    """The Redis keys of the caller's entries: its subject's, then its session's if it has one."""
    keys = [KEY_PREFIX + "sub:" + caller.subject]
    if caller.session_id:
        keys.append(KEY_PREFIX + "sid:" + caller.session_id)
    return keys


class Revocations(Protocol):
    async def revoke_subject(self, subject: str) -> None:
        """Every access token of the subject issued until now stops working."""

    async def revoke_session(self, session_id: str) -> None:
        """Every access token carrying this `sid` stops working."""

    async def is_revoked(self, caller: Caller) -> bool: ...

    async def revoked_among(self, callers: Sequence[Caller]) -> list[bool]:
        """`is_revoked` of each caller, in one round trip to the store (the WebSocket bridge checks
        all its open sockets at once)."""
        ...

    async def close(self) -> None: ...


class MemoryRevocations:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        # key → (revoked at, forget after)
        self._entries: dict[str, tuple[float, float]] = {}

    def _put(self, key: str) -> None:
        now = time.time()
        self._entries[key] = (now, now + self.ttl_s)
        if len(self._entries) > 10_000:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}

    async def revoke_subject(self, subject: str) -> None:
        self._put("sub:" + subject)

    async def revoke_session(self, session_id: str) -> None:
        self._put("sid:" + session_id)

    def _revoked_at(self, key: str) -> float | None:
        entry = self._entries.get(key)
        return entry[0] if entry and entry[1] > time.time() else None

    async def is_revoked(self, caller: Caller) -> bool:
        if caller.session_id and self._revoked_at("sid:" + caller.session_id) is not None:
            return True
        return revoked_by(caller, self._revoked_at("sub:" + caller.subject), session_revoked=False)

    async def revoked_among(self, callers: Sequence[Caller]) -> list[bool]:
        return [await self.is_revoked(caller) for caller in callers]

    async def close(self) -> None:
        return None


class RedisRevocations:
    def __init__(self, url: str, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    async def _put(self, key: str) -> None:
        try:
            await self.client.set(KEY_PREFIX + key, repr(time.time()), ex=max(1, int(self.ttl_s)))
        except redis.exceptions.RedisError as error:
            raise DependencyUnavailable(f"revocation store unavailable: {error}") from None

    async def revoke_subject(self, subject: str) -> None:
        await self._put("sub:" + subject)

    async def revoke_session(self, session_id: str) -> None:
        await self._put("sid:" + session_id)

    async def is_revoked(self, caller: Caller) -> bool:
        return (await self.revoked_among([caller]))[0]

    async def revoked_among(self, callers: Sequence[Caller]) -> list[bool]:
        # Each caller's subject entry and session entry (when it has a session), read with one MGET
        # per REDIS_MGET_KEYS: thousands of open sockets are one round trip, not thousands.
        keys = [key for caller in callers for key in revocation_keys(caller)]
        values: list[bytes | str | None] = []
        try:
            for start in range(0, len(keys), REDIS_MGET_KEYS):
                values += await self.client.mget(keys[start : start + REDIS_MGET_KEYS])
        except redis.exceptions.RedisError as error:
            # Fail closed: without the list we cannot tell a revoked token from a good one.
            raise DependencyUnavailable(f"revocation store unavailable: {error}") from None
        found = iter(values)
        revoked = []
        for caller in callers:
            subject_revoked_at = next(found)
            session_revoked = caller.session_id != "" and next(found) is not None
            at = None if subject_revoked_at is None else float(subject_revoked_at)
            revoked.append(revoked_by(caller, at, session_revoked))
        return revoked

    async def close(self) -> None:
        await self.client.aclose()


class SqliteRevocations:
    """The list in one SQLite file shared by every process on this machine.

    Reads are a primary-key lookup (microseconds) on a connection of this process; WAL mode lets
    readers run while the business service writes. Expired entries are deleted on each write."""

    def __init__(self, path: Path, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per process, used from the event loop's thread only.
        self.db = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS revoked (key TEXT PRIMARY KEY, revoked_at REAL, forget_after REAL)"
        )

    def _put(self, key: str) -> None:
        now = time.time()
        try:
            self.db.execute("DELETE FROM revoked WHERE forget_after < ?", (now,))
            self.db.execute("INSERT OR REPLACE INTO revoked VALUES (?, ?, ?)", (key, now, now + self.ttl_s))
        except sqlite3.Error as error:
            raise DependencyUnavailable(f"revocation store unavailable: {error}") from None

    async def revoke_subject(self, subject: str) -> None:
        self._put("sub:" + subject)

    async def revoke_session(self, session_id: str) -> None:
        self._put("sid:" + session_id)

    def _revoked_at(self, key: str) -> float | None:
        try:
            row = self.db.execute(
                "SELECT revoked_at FROM revoked WHERE key = ? AND forget_after > ?", (key, time.time())
            ).fetchone()
        except sqlite3.Error as error:
            # Fail closed, as with Redis.
            raise DependencyUnavailable(f"revocation store unavailable: {error}") from None
        return float(row[0]) if row else None

    async def is_revoked(self, caller: Caller) -> bool:
        if caller.session_id and self._revoked_at("sid:" + caller.session_id) is not None:
            return True
        return revoked_by(caller, self._revoked_at("sub:" + caller.subject), session_revoked=False)

    async def revoked_among(self, callers: Sequence[Caller]) -> list[bool]:
        # The live entries are few (revocations of the last token lifetime): one read of them all,
        # not two lookups per caller.
        try:
            rows = self.db.execute(
                "SELECT key, revoked_at FROM revoked WHERE forget_after > ?", (time.time(),)
            ).fetchall()
        except sqlite3.Error as error:
            raise DependencyUnavailable(f"revocation store unavailable: {error}") from None
        entries = {str(key): float(revoked_at) for key, revoked_at in rows}
        return [
            revoked_by(
                caller,
                entries.get("sub:" + caller.subject),
                caller.session_id != "" and "sid:" + caller.session_id in entries,
            )
            for caller in callers
        ]

    async def close(self) -> None:
        self.db.close()


def make_revocations(redis_url: str, ttl_s: float, shared_file: str = "") -> Revocations:
    """Shared through Redis when configured, else through `shared_file` (SQLite) when given, else
    in this process only (tests of one service). Entries outlive the tokens they cover by a minute
    (clock skew between services)."""
    if redis_url:
        return RedisRevocations(redis_url, ttl_s + 60)
    if shared_file:
        return SqliteRevocations(Path(shared_file), ttl_s + 60)
    return MemoryRevocations(ttl_s + 60)
