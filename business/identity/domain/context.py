"""What the identity use cases share: the caller's client, the policy (TTLs, limits) and the
ports they talk to. Built once by business.identity.wiring; plain data, no gRPC."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from business.identity.adapters.mail import Mailer
from business.identity.adapters.sms import SmsSender
from business.identity.domain.access_tokens import AccessTokenIssuer
from business.identity.domain.passwords import PasswordHasher
from business.identity.domain.secret_box import SecretBox
from business.identity.domain.throttle import AttemptLimiter
from business.shared.database import UnitsOfWork
from service_runtime.revocations import Revocations

log = logging.getLogger("business.identity")


@dataclass(frozen=True)
class Client:
    """Who is on the other end, for sessions, throttling and the audit log."""

    ip: str = ""
    user_agent: str = ""
    request_id: str = ""


SYSTEM = Client(ip="", user_agent="admin-cli", request_id="")


@dataclass(frozen=True)
class IdentityPolicy:
    # Base URL of the links in emails (PUBLIC_WEB_URL); no default here, the settings own it.
    public_web_url: str
    totp_issuer: str = "Trading Platform"
    refresh_ttl_s: int = 7 * 24 * 3600
    challenge_ttl_s: int = 300
    challenge_max_attempts: int = 5
    sms_code_ttl_s: int = 300
    sms_code_max_attempts: int = 5
    verify_link_ttl_s: int = 24 * 3600
    reset_link_ttl_s: int = 30 * 60

    def link(self, path: str, token: str) -> str:
        return f"{self.public_web_url.rstrip('/')}/{path}?token={token}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Identity:
    db: UnitsOfWork[Session]
    hasher: PasswordHasher
    limiter: AttemptLimiter
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
        await self.drain()
        await self.limiter.counters.close()
