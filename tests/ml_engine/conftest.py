"""Fixtures of the ML engine tests. Market stores: MariaDB when TEST_MYSQL_HOST is set
(CI), and always a fresh SQLite file, each with the migrations applied. Callers: signed tokens
the in-process servers of the handler tests trust."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from ml_engine.shared.database import MarketStore
from tests.support.in_process import TestCallers


def mysql_url() -> str | None:
    host = os.environ.get("TEST_MYSQL_HOST")
    if not host:
        return None
    user = quote_plus(os.environ.get("TEST_MYSQL_USER", "root"))
    password = quote_plus(os.environ.get("TEST_MYSQL_PASSWORD", ""))
    port = os.environ.get("TEST_MYSQL_PORT", "3306")
    database = os.environ.get("TEST_MYSQL_DATABASE", "trading_test")
    return f"mysql+pymysql://{user}:{password}@{host}:{port}/{database}?charset=utf8mb4"


def backends() -> list[str]:
    return ["sqlite", "mysql"] if mysql_url() else ["sqlite"]


@pytest.fixture(params=backends())
def market_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MarketStore]:
    url = f"sqlite:///{tmp_path / 'market.db'}" if request.param == "sqlite" else mysql_url()
    assert url
    store = MarketStore(url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def callers(tmp_path: Path) -> TestCallers:
    return TestCallers(tmp_path / "keys")
