"""The business store (PostgreSQL; SQLite for local runs) and its migrations."""

from __future__ import annotations

from pathlib import Path

from service_runtime.databases import SqlStore
from service_runtime.migrations import upgrade

MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"

# The seed's seven PostgreSQL schemas; `public` exists already in every database.
SCHEMAS = ("public", "education", "trading", "investment", "financial", "ml", "audit")


def migrate(url: str, revision: str = "head") -> None:
    upgrade(url, MIGRATIONS_DIR, revision)


class BusinessStore(SqlStore):
    def __init__(self, url: str) -> None:
        super().__init__("business_db", url)
