"""The business store (PostgreSQL; SQLite for local runs) and its migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from service_runtime.databases import SqlStore, normalize_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# The seed's seven PostgreSQL schemas; `public` exists already in every database.
SCHEMAS = ("public", "education", "trading", "investment", "financial", "ml", "audit")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


class BusinessStore(SqlStore):
    def __init__(self, url: str) -> None:
        super().__init__("business_db", url)
