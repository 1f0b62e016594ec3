"""What the identity use cases share: the policy (TTLs, limits), the clock and the ports they talk
to. Built once by business.identity.wiring (and by tests, with fakes where they like)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from business.audit import domain as audit
from business.audit.domain import Client
from business.identity.domain.access_tokens import AccessTokenIssuer
from business.identity.domain.passwords import PasswordHasher
from business.identity.domain.ports import IdentityUnitOfWork, Mailer, Revocations, SmsSender, Transactions
from business.identity.domain.secret_box import SecretBox
from business.identity.domain.throttle import AttemptLimiter

log = logging.getLogger("business.identity")

# The admin command line, as the audit log names it.
ADMIN_CLI = Client(ip="", user_agent="admin-cli", request_id="")


@dataclass(frozen=True)
class IdentityPolicy:
    # Base URL of the links in emails (PUBLIC_WEB_URL); no default here, the settings own it.
    public_web_url: str
    totp_issuer: str = "Trading Platform"
    refresh_ttl_s: int = 7 * 24 * 3600
    # Seconds after a rotation in which the token just spent still yields its successor (two
    # tabs refreshing at once); later, presenting it is reuse. 0: no grace.
    refresh_grace_s: int = 10
    challenge_ttl_s: int = 300
    challenge_max_attempts: int = 5
    sms_code_ttl_s: int = 300
    sms_code_max_attempts: int = 5
    verify_link_ttl_s: int = 24 * 3600
    reset_link_ttl_s: int = 30 * 60

    def link(self, path: str, token: str) -> str:
        return f"{self.public_web_url.rstrip('/')}/{path}?token={token}"

    def page(self, path: str) -> str:
        return f"{self.public_web_url.rstrip('/')}/{path}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Identity:
    transactions: Transactions
    hasher: PasswordHasher
    limiter: AttemptLimiter
    # Limits on sending mails and texts (AttemptLimiter.take), per recipient and per client.
    sends: AttemptLimiter
    mailer: Mailer
    sms: SmsSender
    revocations: Revocations
    tokens: AccessTokenIssuer
    secrets: SecretBox
    policy: IdentityPolicy
    clock: Callable[[], datetime] = utcnow
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def now(self) -> datetime:
        return self.clock()

    def record(self, uow: IdentityUnitOfWork, action: str, client: Client, **fields: Any) -> None:
        """An audit entry, dated now, in the unit of work's transaction (see audit.domain.record)."""
        audit.record(uow.audit, self.now(), action, client, **fields)

    async def record_failure(self, action: str, client: Client, **fields: Any) -> None:
        """A failed attempt that changes nothing else: its audit entry is its own transaction."""
        await self.transactions.run(
            lambda uow: self.record(uow, action, client, outcome=audit.FAILED, **fields)
        )

    def in_background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Deliver a message without making the caller wait for it. Used where waiting would
        tell a caller whether an account exists (an unknown email or number sends nothing)."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("background delivery failed: %s", what)

        task = asyncio.get_running_loop().create_task(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for deliveries in flight (shutdown and tests)."""
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self) -> None:
        """Deliveries finished, counters closed; the store belongs to the service and closes with it."""
        await self.drain()
        await self.limiter.counters.close()
