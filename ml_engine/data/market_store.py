"""The market data store (MySQL in production, SQLite for local runs)."""

from __future__ import annotations

from sqlalchemy import Engine

from service_runtime.databases import make_engine, probe_database
from trading.common.v1 import health_pb2


class MarketStore:
    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)

    async def probe(self, timeout_s: float) -> health_pb2.DependencyHealth:
        return await probe_database("market_db", self.engine, timeout_s)

    def close(self) -> None:
        self.engine.dispose()
