"""0002_identity: tables in `public`, the audit log in `audit` (PostgreSQL), and back down."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from business.shared.database import migrate
from service_runtime.databases import make_engine


def test_identity_tables_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "users",
        "oauth_identities",
        "sessions",
        "refresh_tokens",
        "backup_codes",
        "one_time_codes",
        "events",
    } <= tables


def test_identity_tables_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    inspector = inspect(engine)
    public = set(inspector.get_table_names(schema="public"))
    audit = set(inspector.get_table_names(schema="audit"))
    engine.dispose()
    assert {"users", "sessions", "refresh_tokens", "one_time_codes"} <= public
    assert audit == {"events"} and "events" not in public


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    from alembic import command

    from business.shared.database import MIGRATIONS_DIR
    from service_runtime.migrations import alembic_config

    command.downgrade(alembic_config(url, MIGRATIONS_DIR), "0001_schemas")
    engine = make_engine(url)
    assert "users" not in inspect(engine).get_table_names()
    engine.dispose()
    migrate(url)
