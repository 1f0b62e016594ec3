"""The business service's one store: PostgreSQL in production, SQLite for local runs.

One engine serves every feature. A feature's data layer reaches it through `UnitsOfWork`: each
`run` is ONE transaction, handed to the work as the feature's unit of work (its repositories over
that transaction's Session), so an action and its audit row are written together or not at all.
SQLAlchemy is synchronous: units of work run in a worker thread (asyncio.to_thread).

Every feature's tables derive from `Base` and keep times in `UtcDateTime` columns. Alembic
(`business/migrations`) owns the schema; `migrate()` applies it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from service_runtime.databases import SQLITE_BUSY_TIMEOUT_S, SqlStore
from service_runtime.migrations import upgrade

MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"

# The seed's seven PostgreSQL schemas; `public` exists already in every database.
SCHEMAS = ("public", "education", "trading", "investment", "financial", "ml", "audit")

T = TypeVar("T")
U = TypeVar("U")

# Execution option of the units-of-work engine: on SQLite, its transactions take the write lock
# when they begin.
_BEGIN_IMMEDIATE = "business_begin_immediate"


def migrate(url: str, revision: str = "head") -> None:
    upgrade(url, MIGRATIONS_DIR, revision)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python. SQLite keeps times as text without a zone, so UTC is put back
    on the way out; comparisons stay correct because every stored value is UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the business store only takes UTC-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern written with `escape="\\"`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Base(DeclarativeBase):
    """The declarative base of every business table (one metadata for the one database)."""


def _sqlite_transactions(engine: Engine) -> None:
    """SQLite: units of work take the write lock when their transaction begins (BEGIN IMMEDIATE).

    pysqlite's default starts transactions lazily, so two readers that both decide to write
    dead-lock and one fails with "database is locked". Beginning immediately makes writers
    queue on the busy timeout instead, the same serialisation PostgreSQL's row locks give.
    Other connections (the health probe) begin deferred, as pysqlite would, and wait for no writer.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _ProcessWriterQueue:
    """The turn of one unit of work at a time on SQLite, in this process. Reentrant (a unit of work
    may start another in its thread); a turn not given within SQLite's own busy timeout is the
    same error SQLite gives ("database is locked"), never a wait for ever."""

    def __init__(self, timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> None:
        self._lock = threading.RLock()
        self.timeout_s = timeout_s

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=self.timeout_s):
            locked = sqlite3.OperationalError("database is locked (this process's other writers)")
            raise OperationalError("BEGIN IMMEDIATE", None, locked)

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class BusinessStore(SqlStore):
    """The engine, the health probe (`business_db`), and transactions for units of work."""

    def __init__(self, url: str) -> None:
        super().__init__("business_db", url)
        work_engine = self.engine
        if self.engine.dialect.name == "sqlite":
            _sqlite_transactions(self.engine)
            # No schemas in SQLite: `audit.events` is plain `events` there, and so on.
            work_engine = self.engine.execution_options(
                schema_translate_map=dict.fromkeys(SCHEMAS), **{_BEGIN_IMMEDIATE: True}
            )
        # Objects stay readable after commit: repositories map them to entities after the fact.
        self._sessions = sessionmaker(work_engine, expire_on_commit=False)
        # SQLite has one writer at a time, and each unit of work begins as one (BEGIN IMMEDIATE).
        # This process's units of work queue here, each taking over the moment the last one ends;
        # on SQLite's busy timeout they slept and retried (SQLite's back-off: up to 100 ms a try),
        # which was the slowest logins' wait at 8 at once (p99 217 ms against 148 on PostgreSQL).
        self._one_writer: AbstractContextManager[object] = (
            _ProcessWriterQueue() if self.engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._one_writer, self._sessions() as session, session.begin():
            yield session

    def units_of_work(self, make: Callable[[Session], U]) -> UnitsOfWork[U]:
        """Transactions of this store, each handed to the work as `make(session)`."""
        return UnitsOfWork(self, make)


class UnitsOfWork(Generic[U]):
    """A feature's way into the store: `run(work)` calls `work(unit_of_work)` in one transaction."""

    def __init__(self, store: BusinessStore, make: Callable[[Session], U]) -> None:
        self.store = store
        self._make = make

    def run_sync(self, work: Callable[[U], T]) -> T:
        with self.store.transaction() as session:
            return work(self._make(session))

    async def run(self, work: Callable[[U], T]) -> T:
        return await asyncio.to_thread(self.run_sync, work)


def inserted_first(session: Session, row: object) -> bool:
    """Inserts `row` in a savepoint of the unit of work's transaction; False when its key is taken
    (a concurrent call inserted it first: on PostgreSQL the second insert waits for the first to
    commit, then clashes), leaving the transaction usable."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


R = TypeVar("R")


def locked_or_inserted(
    session: Session, row_type: type[R], key: Any, new_row: Callable[[], R]
) -> tuple[R, bool]:
    """The row of `key`, locked until the transaction ends, and whether this call inserted it: a
    missing row is inserted (and held) by this transaction, or, when a concurrent one inserted it
    first, locked once that one committed. Two replicas taking the same first event both get a row
    to wait on, where a missing row gave the loser a clash on its key."""
    row = session.get(row_type, key, with_for_update=True)
    if row is not None:
        return row, False
    fresh = new_row()
    if inserted_first(session, fresh):
        return fresh, True
    row = session.get(row_type, key, with_for_update=True)
    assert row is not None  # the other transaction inserted and committed it
    return row, False
