"""Fixtures shared by the cross-service tests: the real system, started once per session.

Stores: PostgreSQL, MariaDB and Redis when TEST_DATABASE_URL, TEST_MYSQL_HOST and
TEST_REDIS_URL are set (CI sets them); SQLite files and no Redis otherwise.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.supervisor import Stack
from service_runtime.signing_keys import SigningKeyStore

ENVOY_PORT = 18080
GATEWAY_PORT = 18000
BUSINESS_PORT = 15051
ML_PORT = 15052
EDGE = f"http://127.0.0.1:{ENVOY_PORT}"
PAGE_ORIGIN = f"http://127.0.0.1:{GATEWAY_PORT}"


def stack_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APP_ENV="test",
        LOG_LEVEL="INFO",
        ENVOY_PORT=str(ENVOY_PORT),
        ENVOY_ADMIN_PORT="19901",
        BUSINESS_GRPC_PORT=str(BUSINESS_PORT),
        ML_GRPC_PORT=str(ML_PORT),
        GATEWAY_PORT=str(GATEWAY_PORT),
        BUSINESS_METRICS_PORT="19101",
        ML_METRICS_PORT="19102",
        JWT_KEYS_DIR=str(tmp / "keys"),
        DEV_TOKENS_ENABLED="true",
        PUBLIC_API_URL=EDGE,
        CORS_ALLOWED_ORIGINS=PAGE_ORIGIN,
        DATABASE_URL=os.environ.get("TEST_DATABASE_URL", f"sqlite:///{tmp / 'business.db'}"),
        MARKET_SQLITE_PATH=str(tmp / "market.db"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", ""),
        SHUTDOWN_GRACE_S="3",
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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    running = Stack(env=stack_env(tmp), log_dir=tmp / "logs")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def keys(stack: Stack) -> SigningKeyStore:
    return SigningKeyStore(Path(stack.env["JWT_KEYS_DIR"]))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": "trading-platform", "aud": "trading-api", "sub": "user-1", "roles": ["user"],
            "plan": "free", "iat": now, "nbf": now, "exp": now + 900, "jti": uuid.uuid4().hex}
    base.update(overrides)
    return base


@pytest.fixture(scope="session")
def token(keys: SigningKeyStore) -> str:
    return keys.sign(claims())


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}
