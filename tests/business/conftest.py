"""The business store for tests: a migrated SQLite file always, and a throwaway PostgreSQL database
when TEST_DATABASE_URL names a server (`db_url` and `store` run each test on both).

The PostgreSQL database is created next to TEST_DATABASE_URL's, migrated once, emptied before each
test and dropped at the end, so counts such as "active admins" are not disturbed by other tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from business.shared.database import SCHEMAS, BusinessStore, migrate
from service_runtime.databases import normalize_url


def _postgres_url() -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    parsed = make_url(normalize_url(base))
    name = f"identity_{uuid.uuid4().hex[:10]}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url_iter = _postgres_url()
    url = next(url_iter)
    migrate(url)
    yield url
    next(url_iter, None)


def _empty_postgres(url: str) -> None:
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = ANY(:schemas) AND tablename <> 'alembic_version'"
            ),
            {"schemas": list(SCHEMAS)},
        ).scalars()
        # TRUNCATE fires no row triggers: the append-only audit log can be emptied between tests.
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty business database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/business.db"
        migrate(url)
        return url
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[BusinessStore]:
    opened = BusinessStore(db_url)
    yield opened
    opened.close()
