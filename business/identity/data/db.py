"""The identity store's engine and units of work.

SQLAlchemy is synchronous: each unit of work runs in a worker thread (asyncio.to_thread) inside
ONE transaction, so an action and its audit row are written together or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from business.identity.data.tables import AUDIT_SCHEMA
from service_runtime.databases import make_engine

T = TypeVar("T")


def _sqlite_transactions(engine: Engine) -> None:
    """SQLite: take the write lock when a transaction begins (BEGIN IMMEDIATE).

    pysqlite's default starts transactions lazily, so two readers that both decide to write
    dead-lock and one fails with "database is locked". Beginning immediately makes writers
    queue on the busy timeout instead, the same serialisation PostgreSQL's row locks give.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class IdentityDb:
    def __init__(self, url: str) -> None:
        self._base = make_engine(url)
        engine: Engine = self._base
        if engine.dialect.name == "sqlite":
            _sqlite_transactions(engine)
            # No schemas in SQLite: audit.events is plain `events` there.
            engine = engine.execution_options(schema_translate_map={AUDIT_SCHEMA: None})
        self.engine = engine
        # Objects stay readable after commit: use cases return them as detached snapshots.
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def run_sync(self, work: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return work(session)

    async def run(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.run_sync, work)

    def close(self) -> None:
        self._base.dispose()
