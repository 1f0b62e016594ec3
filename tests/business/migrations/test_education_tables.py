"""0004_education and 0006_education_live: tables in the `education` schema (PostgreSQL) with the
full-text index of each dialect (a GIN-indexed tsvector, an FTS5 table), and back down."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from business.shared.database import MIGRATIONS_DIR, migrate
from service_runtime.databases import make_engine
from service_runtime.migrations import alembic_config

EDUCATION_TABLES = {
    "courses",
    "course_instructors",
    "catalogue",
    "catalogue_tags",
    "enrollments",
    "quiz_attempts",
    "certificates",
    "forecast_answers",
}


def test_education_tables_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    engine = make_engine(url)
    assert EDUCATION_TABLES | {"course_search"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    command.downgrade(alembic_config(url, MIGRATIONS_DIR), "0002_identity")
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert not (EDUCATION_TABLES | {"course_search"}) & tables and "users" in tables
    migrate(url)


def test_education_tables_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    inspector = inspect(engine)
    assert set(inspector.get_table_names(schema="education")) == EDUCATION_TABLES
    assert not EDUCATION_TABLES & set(inspector.get_table_names(schema="public"))
    with engine.connect() as conn:
        index = conn.execute(
            text(
                "SELECT indexdef FROM pg_indexes "
                "WHERE schemaname = 'education' AND indexname = 'ix_catalogue_document'"
            )
        ).scalar_one()
    engine.dispose()
    assert "gin (document)" in index.lower()
