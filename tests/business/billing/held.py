"""A race made to happen every time: one transaction does its work and stays open (in a thread of
its own) until another transaction is waiting for it, then commits. On PostgreSQL the waiting one
is seen in pg_stat_activity (a row lock, or a key another transaction is inserting); SQLite has one
writer at a time, so there the other one waits to begin and the race cannot happen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import text

from business.billing.data.repositories import SqlBillingUnitOfWork
from business.shared.database import BusinessStore


class HeldTransaction:
    """`with HeldTransaction(store, work) as held:` work done, not committed; `held.commit()`."""

    def __init__(self, store: BusinessStore, work: Callable[[SqlBillingUnitOfWork], Any]) -> None:
        self.store = store
        self.work = work
        self.result: Any = None
        self._done = threading.Event()
        self._release = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="held-transaction")

    def _run(self) -> None:
        try:
            with self.store.transaction() as session:
                self.result = self.work(SqlBillingUnitOfWork(session))
                self._done.set()
                self._release.wait(timeout=30)
        except BaseException as error:  # handed to the test's thread
            self._error = error
        finally:
            self._done.set()

    def __enter__(self) -> HeldTransaction:
        self._thread.start()
        self._done.wait(timeout=30)
        return self

    def commit(self) -> None:
        self._release.set()
        self._thread.join(timeout=30)
        if self._error is not None:
            raise self._error

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.commit()


def wait_until_another_waits(store: BusinessStore, timeout_s: float = 10.0) -> None:
    """Returns once another connection to the database waits for a lock (PostgreSQL); on SQLite,
    after a moment (the other transaction waits for its turn to begin)."""
    if store.dialect != "postgresql":
        time.sleep(0.2)
        return
    deadline = time.monotonic() + timeout_s
    with store.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            if waiting:
                return
            conn.rollback()
            time.sleep(0.01)
    raise AssertionError("no transaction came to wait for the held one")
