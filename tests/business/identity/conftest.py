"""Identity use cases on a real store (`store` of tests/business/conftest.py: SQLite always,
PostgreSQL when TEST_DATABASE_URL is set), with an outbox in place of mail and SMS."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from business.audit.domain import Client
from business.identity.adapters.attempt_counters import MemoryAttemptCounters
from business.identity.data.repositories import SqlIdentityUnitOfWork
from business.identity.domain.access_tokens import AccessTokenIssuer
from business.identity.domain.context import Identity, IdentityPolicy
from business.identity.domain.emails import OutgoingEmail
from business.identity.domain.passwords import PasswordHasher
from business.identity.domain.secret_box import SecretBox
from business.identity.domain.throttle import AttemptLimiter
from business.shared.database import BusinessStore
from service_runtime.revocations import MemoryRevocations
from service_runtime.signing_keys import SigningKeyStore

CLIENT = Client(ip="203.0.113.7", user_agent="pytest", request_id="req-1")
PASSWORD = "correct horse battery staple 42"


@dataclass
class Outbox:
    """The mail and SMS ports, recording what would leave (the real adapters have their own
    tests against aiosmtpd and a Twilio-speaking server)."""

    emails: list[OutgoingEmail] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, email: OutgoingEmail) -> None:
        self.emails.append(email)

    def link_token(self, to: str) -> str:
        body = next(e.text for e in reversed(self.emails) if e.to == to)
        match = re.search(r"token=([A-Za-z0-9_\-]+)", body)
        assert match, body
        return match.group(1)


@dataclass
class Texts:
    outbox: Outbox

    async def send(self, to: str, body: str) -> None:
        self.outbox.texts.append((to, body))

    def code_for(self, to: str) -> str:
        body = next(b for t, b in reversed(self.outbox.texts) if t == to)
        match = re.search(r"\b(\d{6})\b", body)
        assert match
        return match.group(1)


class Clock:
    """Settable time, to expire links and codes without sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeyStore:
    store = SigningKeyStore(tmp_path_factory.mktemp("keys"))
    store.ensure()
    return store


@pytest.fixture
def identity(store: BusinessStore, clock: Clock, outbox: Outbox, keys: SigningKeyStore) -> Identity:
    return Identity(
        transactions=store.units_of_work(SqlIdentityUnitOfWork),
        # The cheapest argon2id parameters: these tests are about flows, not hashing cost.
        hasher=PasswordHasher(time_cost=1, memory_kib=8192, parallelism=1),
        limiter=AttemptLimiter(MemoryAttemptCounters()),
        sends=AttemptLimiter(
            MemoryAttemptCounters(), account_limit=5, ip_limit=20, window_s=3600, base_lock_s=60
        ),
        mailer=outbox,
        sms=Texts(outbox),
        revocations=MemoryRevocations(900),
        tokens=AccessTokenIssuer(keys.sign, "trading-platform", "trading-api", 900),
        secrets=SecretBox(SecretBox.generate_key()),
        policy=IdentityPolicy(public_web_url="http://web.test"),
        clock=clock,
    )


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"
