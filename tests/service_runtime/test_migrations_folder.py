"""Migrations on a fresh clone: the SQLite file's folder does not exist yet."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from ml_engine.shared.database import MIGRATIONS_DIR
from service_runtime.migrations import upgrade


def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet' / 'market.db'}"
    upgrade(url, MIGRATIONS_DIR)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"market_symbols", "market_bars", "alembic_version"} <= tables
