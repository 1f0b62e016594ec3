"""Failed-attempt limits: lock an account (and a client address) after repeated failures.

Each failure is counted in a sliding window per (scope, account) and per (scope, ip). Reaching
the limit locks for `base_lock_s`, and every further failure doubles the lock, up to
`max_lock_s`: guessing gets exponentially slower while an honest user who mistypes a few times
waits seconds. The ip limit stops one client spraying guesses across many accounts. Keys are
hashed, so the store (Redis) never holds email addresses or IPs in clear.

A try is counted as failed before its secret is verified, and taken back if it proves right:
counted after the fact, a burst of concurrent guesses would all pass the check before the first
of them had failed.

The counters are a port (`AttemptCounters`): Redis when configured (shared by every replica,
survive restarts), process memory otherwise (identity/adapters/attempt_counters.py).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from business.identity.domain.ports import AttemptCounters
from service_runtime.errors import TooManyAttempts

_MAX_DOUBLINGS = 60  # 2**60 * any sane base exceeds any cap; avoids float overflow


def _hashed(kind: str, scope: str, value: str) -> str:
    digest = hashlib.sha256((scope + "\0" + value).encode("utf-8")).hexdigest()[:32]
    return f"{kind}:{scope}:{digest}"


@dataclass(frozen=True)
class Attempt:
    """A try at a secret, counted as failed from the start (`AttemptLimiter.attempt`)."""

    scope: str
    account_key: str
    ip: str
    # The try's own entry in the ip's count, taken back if it succeeds.
    ip_entry: str


class AttemptLimiter:
    """attempt() before verifying a secret, succeeded() once it proved right. For actions that
    cost something whether or not they succeed (sending a mail or a text), take()."""

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

    async def check(self, scope: str, account_key: str, ip: str, *, what: str = "failed attempts") -> None:
        """Raise TooManyAttempts while the account or the ip is locked for `scope`."""
        keys = [_hashed("lock:acct", scope, account_key)]
        if ip:
            keys.append(_hashed("lock:ip", scope, ip))
        await self._refuse_while_locked(keys, what)

    async def _refuse_while_locked(self, lock_keys: list[str], what: str) -> None:
        remaining = await self.counters.lock_remaining(lock_keys)
        if remaining > 0:
            retry_after = math.ceil(remaining * 1000) / 1000
            raise TooManyAttempts(f"too many {what}; retry in {math.ceil(remaining)} s", retry_after)

    async def take(self, scope: str, account_key: str, ip: str) -> None:
        """Counts one use of a limited action (a mail or a text to `account_key`, an address or a
        number) and raises TooManyAttempts when the account or the ip is over its limit. Every
        call counts, whatever then happens, so the answer never depends on whether an account
        exists; a burst of concurrent calls cannot slip past, since each call's own count decides."""
        await self.check(scope, account_key, ip, what="requests")
        over = await self._count(scope, "acct", account_key, self.account_limit)
        if ip:
            over = await self._count(scope, "ip", ip, self.ip_limit) or over
        if over:
            await self.check(scope, account_key, ip, what="requests")  # the lock just set
            raise TooManyAttempts(
                f"too many requests; retry in {math.ceil(self.base_lock_s)} s", self.base_lock_s
            )

    async def attempt(self, scope: str, account_key: str, ip: str) -> Attempt:
        """Counts a try at a secret as failed BEFORE the secret is verified, and refuses it
        (TooManyAttempts) while the account or the ip is locked, or when its count reaches the
        limit and another try holds the lock that count sets. Each try's own count decides, so of
        a burst of concurrent guesses at most the limit is verified; one at a time, it is as if
        failures were counted after the fact: the limit, then one try each time a lock ends."""
        await self.check(scope, account_key, ip)
        await self._reserve(scope, "acct", account_key, self.account_limit)
        ip_entry = await self._reserve(scope, "ip", ip, self.ip_limit) if ip else ""
        return Attempt(scope, account_key, ip, ip_entry)

    async def succeeded(self, attempt: Attempt) -> None:
        """The try proved the secret: the account's failures (and any lock) are forgotten, and the
        try no longer counts against the ip, whose other failures stay (signing in to one's own
        account must not wipe out guesses at others)."""
        await self.record_success(attempt.scope, attempt.account_key)
        if attempt.ip_entry:
            await self.counters.forget(_hashed("fail:ip", attempt.scope, attempt.ip), attempt.ip_entry)

    async def record_success(self, scope: str, account_key: str) -> None:
        """Forget the account's failures (and any lock) for `scope`."""
        await self.counters.clear(
            [_hashed("fail:acct", scope, account_key), _hashed("lock:acct", scope, account_key)]
        )

    def lock_seconds(self, failures: int, limit: int) -> float:
        """base_lock_s at the limit, doubling with each further failure, capped at max_lock_s."""
        return min(self.max_lock_s, self.base_lock_s * 2.0 ** min(failures - limit, _MAX_DOUBLINGS))

    async def _reserve(self, scope: str, kind: str, value: str, limit: int) -> str:
        """Counts one try; from the limit on, the try goes ahead only if it is the one that sets
        the next lock (of concurrent tries, one). Returns the try's entry in the count."""
        failures, entry = await self.counters.add_failure(
            _hashed(f"fail:{kind}", scope, value), self.window_s
        )
        lock_key = _hashed(f"lock:{kind}", scope, value)
        if failures < limit or await self.counters.lock_if_free(lock_key, self.lock_seconds(failures, limit)):
            return entry
        await self._refuse_while_locked([lock_key], "failed attempts")
        # The lock ended in between: refused all the same, this try's count is past the limit.
        raise TooManyAttempts(
            f"too many failed attempts; retry in {math.ceil(self.base_lock_s)} s", self.base_lock_s
        )

    async def _count(self, scope: str, kind: str, value: str, limit: int) -> bool:
        """Counts one; True when the count went past `limit` (the lock is then set)."""
        failures, _ = await self.counters.add_failure(_hashed(f"fail:{kind}", scope, value), self.window_s)
        if failures >= limit:
            await self.counters.lock(
                _hashed(f"lock:{kind}", scope, value), self.lock_seconds(failures, limit)
            )
        return failures > limit
