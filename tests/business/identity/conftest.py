"""Identity use cases on a real store: SQLite always, PostgreSQL when TEST_DATABASE_URL is set
(the throwaway database of tests/business/conftest.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from business.identity.domain.access_tokens import AccessTokenIssuer
from business.identity.domain.context import Client, Identity, IdentityPolicy
from business.identity.domain.emails import OutgoingEmail
from business.identity.domain.passwords import PasswordHasher
from business.identity.domain.secret_box import SecretBox
from business.identity.domain.throttle import AttemptLimiter, MemoryAttemptCounters
from business.shared.database import BusinessStore, migrate
from service_runtime.databases import normalize_url
from service_runtime.revocations import MemoryRevocations
from service_runtime.signing_keys import SigningKeyStore

CLIENT = Client(ip="203.0.113.7", user_agent="pytest", request_id="req-1")
PASSWORD = "correct horse battery staple 42"
IDENTITY_TABLES = (
    "refresh_tokens",
    "sessions",
    "backup_codes",
    "one_time_codes",
    "oauth_identities",
    "users",
)


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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/business.db"
        migrate(url)
        return url
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        # TRUNCATE fires no row triggers: the append-only audit log can be emptied between tests.
        conn.execute(text(f"TRUNCATE {', '.join(IDENTITY_TABLES)}, audit.events RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


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
def identity(db_url: str, clock: Clock, outbox: Outbox, keys: SigningKeyStore) -> Iterator[Identity]:
    store = BusinessStore(db_url)
    built = Identity(
        db=store.units_of_work(lambda session: session),
        # The cheapest argon2id parameters: these tests are about flows, not hashing cost.
        hasher=PasswordHasher(time_cost=1, memory_kib=8192, parallelism=1),
        limiter=AttemptLimiter(MemoryAttemptCounters()),
        mailer=outbox,
        sms=Texts(outbox),
        revocations=MemoryRevocations(900),
        tokens=AccessTokenIssuer(keys.sign, "trading-platform", "trading-api", 900),
        secrets=SecretBox(SecretBox.generate_key()),
        policy=IdentityPolicy(public_web_url="http://web.test"),
        clock=clock,
    )
    yield built
    store.close()


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.com"
