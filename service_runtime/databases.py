"""SQLAlchemy engines for the services' stores and a probe used by health checks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from service_runtime.health import timed_probe
from trading.common.v1 import health_pb2


def normalize_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+psycopg",
        "postgres": "postgresql+psycopg",
        "mysql": "mysql+pymysql",
        "mariadb": "mysql+pymysql",
    }.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (`.data/` on a fresh clone)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


# How long a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 5.0


def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """SQLite files in WAL mode: a commit appends to the log and syncs it once (the rollback
    journal synced the journal, the database and the folder), and readers never wait for the
    writer. synchronous=FULL keeps every committed transaction across a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        if parsed.database and parsed.database != ":memory:":
            event.listen(engine, "connect", _write_ahead_log)
        return engine
    connect_args = {"connect_timeout": 3}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=3, connect_args=connect_args
    )


def describe(engine: Engine) -> str:
    """Backend and database, never the password."""
    url = engine.url
    where = f"{url.host}:{url.port or ''}/{url.database}" if url.host else str(url.database)
    return f"{url.get_backend_name()} {where}"


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def probe_database(name: str, engine: Engine, timeout_s: float) -> health_pb2.DependencyHealth:
    async def probe() -> str:
        await asyncio.wait_for(asyncio.to_thread(_ping, engine), timeout_s)
        return describe(engine)

    return await timed_probe(name, probe)


class SqlStore:
    """A service's relational store: the engine, a health probe under a role name, close."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.engine: Engine = make_engine(url)

    async def probe(self, timeout_s: float) -> health_pb2.DependencyHealth:
        return await probe_database(self.name, self.engine, timeout_s)

    def close(self) -> None:
        self.engine.dispose()
