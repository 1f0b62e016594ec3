"""Alembic migrations of the business store on a real PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from business.shared.database import MIGRATIONS_DIR, SCHEMAS, migrate
from service_runtime.databases import make_engine
from service_runtime.migrations import alembic_config


def head() -> str:
    """The newest revision of the history (each feature adds one)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config("sqlite://", MIGRATIONS_DIR)).get_heads()
    assert len(heads) == 1, f"the history has several heads: {heads}"
    return heads[0]


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_migrations_create_the_seven_schemas_and_are_idempotent() -> None:
    url = os.environ["TEST_DATABASE_URL"]
    migrate(url)
    migrate(url)  # a second run changes nothing and does not fail
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {row[0] for row in conn.execute(text("SELECT schema_name FROM information_schema.schemata"))}
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert set(SCHEMAS) <= found
    assert version == head()


def test_migrations_run_on_sqlite(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head()
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    # No schemas in SQLite: the audit log lands in the same file.
    assert {"users", "sessions", "refresh_tokens", "events"} <= tables
    engine.dispose()
