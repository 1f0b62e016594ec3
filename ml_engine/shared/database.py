"""The market data store (MySQL in production, SQLite for local runs) and its migrations."""

from __future__ import annotations

from pathlib import Path

from service_runtime.databases import SqlStore
from service_runtime.migrations import upgrade

MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"


class MarketStore(SqlStore):
    def __init__(self, url: str) -> None:
        super().__init__("market_db", url)

    def migrate(self) -> None:
        upgrade(self.engine.url.render_as_string(hide_password=False), MIGRATIONS_DIR)
