"""Replicas that start together migrate one after the other (service_runtime/migrations.py): two
processes' migrations of one fresh database at once both succeed, on PostgreSQL (business) and on
MariaDB (the ML engine), and leave the database at head once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text

from service_runtime.databases import normalize_url
from tests.ml_engine.conftest import mysql_url

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
ROOT = Path(__file__).resolve().parents[2]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    name = f"migrate_lock_{uuid.uuid4().hex[:8]}"
    server = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(PG_URL, name)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture
def fresh_mysql() -> Iterator[str]:
    url = mysql_url()
    if not url:
        pytest.skip("needs MariaDB (TEST_MYSQL_HOST)")
    name = f"migrate_lock_{uuid.uuid4().hex[:8]}"
    server = create_engine(url)
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield str(mysql_url(name))
    finally:
        with server.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


def both_at_once(migration: str, url: str) -> None:
    """Two processes run `migration` (Python, given `url`) at once, as two replicas would (Alembic's
    context is global to a process: threads would not be two migrators)."""
    command = [sys.executable, "-c", f"import sys; {migration}", url]
    started = [subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in started:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-2000:]


def versions(url: str, table: str) -> list[str]:
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        found = [row[0] for row in conn.execute(text(f"SELECT version_num FROM {table}"))]
    engine.dispose()
    return found


def test_two_business_replicas_migrate_one_fresh_postgresql_database(fresh_postgres: str) -> None:
    both_at_once("from business.shared.database import migrate; migrate(sys.argv[1])", fresh_postgres)
    assert len(versions(fresh_postgres, "alembic_version")) == 1


def test_two_ml_engine_replicas_migrate_one_fresh_mariadb_database(fresh_mysql: str) -> None:
    both_at_once(
        "from ml_engine.shared.database import MarketStore; MarketStore(sys.argv[1]).migrate()", fresh_mysql
    )
    assert len(versions(fresh_mysql, "alembic_version")) == 1
