"""What every business test may need: a throwaway PostgreSQL database (when TEST_DATABASE_URL names a
server), migrated once per session.

The database is created next to TEST_DATABASE_URL's and dropped at the end, so counts such as
"active admins" are not disturbed by other tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from business.shared.database import migrate
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
