"""Fixtures of the ML engine tests. Market stores: MariaDB when TEST_MYSQL_HOST is set
(CI), and always a fresh SQLite file, each with the migrations applied (`callers`, the signed
tokens of the handler tests, is in tests/conftest.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import sqlalchemy

from ml_engine.shared.database import MarketStore


def mysql_url(database: str | None = None) -> str | None:
    host = os.environ.get("TEST_MYSQL_HOST")
    if not host:
        return None
    user = quote_plus(os.environ.get("TEST_MYSQL_USER", "root"))
    password = quote_plus(os.environ.get("TEST_MYSQL_PASSWORD", ""))
    port = os.environ.get("TEST_MYSQL_PORT", "3306")
    database = database or os.environ.get("TEST_MYSQL_DATABASE", "trading_test")
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


@pytest.fixture(params=backends())
def empty_market_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MarketStore]:
    """A store that holds nothing but what the test writes: on MariaDB a database of its own,
    dropped afterwards (the shared test database holds every other test's bars)."""
    if request.param == "sqlite":
        store = MarketStore(f"sqlite:///{tmp_path / 'market.db'}")
        store.migrate()
        yield store
        store.close()
        return
    name = f"{os.environ.get('TEST_MYSQL_DATABASE', 'trading_test')}_{uuid.uuid4().hex[:8]}"
    server = sqlalchemy.create_engine(str(mysql_url()))
    with server.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    store = MarketStore(str(mysql_url(name)))
    try:
        store.migrate()
        yield store
    finally:
        store.close()
        with server.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()
