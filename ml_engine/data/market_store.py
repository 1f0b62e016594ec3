"""The market data store (MySQL in production, SQLite for local runs)."""

from __future__ import annotations

from service_runtime.databases import SqlStore


class MarketStore(SqlStore):
    def __init__(self, url: str) -> None:
        super().__init__("market_db", url)
