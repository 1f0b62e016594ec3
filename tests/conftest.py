"""Fixtures shared by the cross-service tests: the real system, started once per session.

Stores: PostgreSQL, MariaDB and Redis when TEST_DATABASE_URL, TEST_MYSQL_HOST and
TEST_REDIS_URL are set (CI sets them); SQLite files and no Redis otherwise (the tests of the
Redis stores themselves then get a private redis-server: `redis_url`). Before the system
starts, the servers it talks to are started too: a real SMTP server (aiosmtpd), a stand-in of
Twilio's HTTP API (the SaaS we cannot reach) and a local OpenID Connect provider.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.support.in_process import TestCallers
from tests.support.oidc_provider import OidcProvider
from tests.support.ports import free_ports
from tests.support.redis_server import PrivateRedis, configured_url
from tests.support.smtp_sink import SmtpSink
from tests.support.stripe_api import StripeApi
from tests.support.twilio_api import TwilioApi
from tools.supervisor import Stack

# Picked at import, once per session: two checkouts' suites can run at the same time.
ENVOY_PORT, ENVOY_ADMIN_PORT, GATEWAY_PORT, BUSINESS_PORT, ML_PORT, BUSINESS_METRICS_PORT, ML_METRICS_PORT = (
    free_ports(7)
)
EDGE = f"http://127.0.0.1:{ENVOY_PORT}"
# The test stack's ML rate limit of a free user: calls per window of seconds.
E2E_FREE_RATE_LIMIT, E2E_RATE_WINDOW_S = 20, 3
PAGE_ORIGIN = f"http://127.0.0.1:{GATEWAY_PORT}"


def stack_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APP_ENV="test",
        LOG_LEVEL="INFO",
        ENVOY_PORT=str(ENVOY_PORT),
        ENVOY_ADMIN_PORT=str(ENVOY_ADMIN_PORT),
        BUSINESS_GRPC_PORT=str(BUSINESS_PORT),
        ML_GRPC_PORT=str(ML_PORT),
        GATEWAY_PORT=str(GATEWAY_PORT),
        BUSINESS_METRICS_PORT=str(BUSINESS_METRICS_PORT),
        ML_METRICS_PORT=str(ML_METRICS_PORT),
        JWT_KEYS_DIR=str(tmp / "keys"),
        DEV_TOKENS_ENABLED="true",
        PUBLIC_API_URL=EDGE,
        CORS_ALLOWED_ORIGINS=PAGE_ORIGIN,
        DATABASE_URL=os.environ.get("TEST_DATABASE_URL", f"sqlite:///{tmp / 'business.db'}"),
        MARKET_SQLITE_PATH=str(tmp / "market.db"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", ""),
        REVOCATIONS_FILE=str(tmp / "revocations.db"),
        SHUTDOWN_GRACE_S="3",
        # The suite registers many accounts from one address; the limits have their own tests.
        SEND_LIMIT_PER_CLIENT="100000",
        # Score recorded predictions every second, so a test sees past predictions realized.
        ML_SCORE_INTERVAL_S="1",
        # Per-plan ML rate limits: tight for free in short windows (tests/e2e/test_plan_limits_edge.py
        # sees a 429 and the reset without waiting a minute); pro, the `token` fixture's plan, as
        # good as unlimited for the tests about other things.
        ML_RATE_LIMIT_FREE=str(E2E_FREE_RATE_LIMIT),
        ML_RATE_LIMIT_PRO="1000000",
        ML_RATE_LIMIT_WINDOW_S=str(E2E_RATE_WINDOW_S),
        # A failed payment keeps pro 3 s (the grace), swept every half second: a test sees it end.
        BILLING_PAST_DUE_GRACE_S="3",
        BILLING_SWEEP_INTERVAL_S="0.5",
    )
    if os.environ.get("TEST_MYSQL_HOST"):
        env.update(
            MYSQL_HOST=os.environ["TEST_MYSQL_HOST"],
            MYSQL_PORT=os.environ.get("TEST_MYSQL_PORT", "3306"),
            MYSQL_DATABASE=os.environ.get("TEST_MYSQL_DATABASE", "trading_test"),
            MYSQL_USER=os.environ.get("TEST_MYSQL_USER", "root"),
            MYSQL_PASSWORD=os.environ.get("TEST_MYSQL_PASSWORD", ""),
        )
    return env


def private_stack_env(tmp: Path) -> tuple[dict[str, str], str]:
    """The test stack's environment on ports of its own (metrics off): a second stack beside the
    session's. Its environment and its edge's URL."""
    env = stack_env(tmp)
    envoy, admin, business, ml, gateway = free_ports(5)
    env.update(
        ENVOY_PORT=str(envoy),
        ENVOY_ADMIN_PORT=str(admin),
        BUSINESS_GRPC_PORT=str(business),
        ML_GRPC_PORT=str(ml),
        GATEWAY_PORT=str(gateway),
        BUSINESS_METRICS_PORT="0",
        ML_METRICS_PORT="0",
        ML_SERVICE_URL=f"127.0.0.1:{ml}",
        CORS_ALLOWED_ORIGINS=f"http://127.0.0.1:{gateway}",
        PUBLIC_API_URL="",
    )
    return env, f"http://127.0.0.1:{envoy}"


def forget_redis_state(url: str) -> None:
    """Failed-attempt counters, revocations and OAuth states from an earlier run (every test
    client is 127.0.0.1, so old failures would count against this run's per-address limit)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for pattern in ("identity:attempts:*", "trading:revoked:*", "trading:oauth:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_REDIS_URL (shared: a test deletes the keys it wrote), or a private redis-server
    started for this session. A missing redis-server fails the test, it never skips it."""
    if configured_url():
        yield configured_url()
        return
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except RuntimeError as failed:
        pytest.fail(str(failed), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[TwilioApi]:
    api = TwilioApi()
    api.start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="session")
def stripe_api() -> Iterator[StripeApi]:
    with StripeApi() as api:
        yield api


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    provider = OidcProvider()
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    smtp_sink: SmtpSink,
    twilio_api: TwilioApi,
    oidc_provider: OidcProvider,
    stripe_api: StripeApi,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    env = stack_env(tmp)
    if env["REDIS_URL"]:
        forget_redis_state(env["REDIS_URL"])
    env.update(smtp_sink.env())
    env.update(twilio_api.env())
    env.update(oidc_provider.env())
    env.update(stripe_api.env())
    running = Stack(env=env, log_dir=tmp / "logs")
    running.start()
    try:
        yield running
    finally:
        running.stop()
        if env["REDIS_URL"]:
            forget_redis_state(env["REDIS_URL"])  # leave no keys behind either


@pytest.fixture(scope="session")
def keys(stack: Stack) -> SigningKeyStore:
    return SigningKeyStore(Path(stack.env["JWT_KEYS_DIR"]))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "trading-platform",
        "aud": "trading-api",
        "sub": "user-1",
        "roles": ["user"],
        "plan": "free",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return base


@pytest.fixture
def token(keys: SigningKeyStore) -> str:
    """A user of plan pro: every user RPC is open to it, so tests about other things are not
    refused for their plan (tests about plans sign their own, `claims(plan="free")`). Signed for
    each test: one signed at the session's start expires 15 minutes in, before the suite ends."""
    return keys.sign(claims(plan="pro"))


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


@pytest.fixture
def callers(tmp_path: Path) -> TestCallers:
    """Signed tokens for any role, trusted by the in-process servers of the handler tests."""
    return TestCallers(tmp_path / "keys")
