"""The one business store: units of work are single transactions; on SQLite they take the write
lock when they begin, while the health probe waits for no writer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from business.shared.database import BusinessStore, _ProcessWriterQueue, migrate
from trading.common.v1 import health_pb2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BusinessStore]:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    opened = BusinessStore(url)
    yield opened
    opened.close()


def _count_users(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM users")) or 0)


def _add_user(session: Session, user_id: str) -> None:
    session.execute(
        text(
            "INSERT INTO users (id, email, role, status, plan, created_at, updated_at) "
            "VALUES (:id, :email, 'user', 'active', 'free', '2026-01-01', '2026-01-01')"
        ),
        {"id": user_id, "email": f"{user_id}@example.com"},
    )


def test_a_unit_of_work_commits_or_leaves_nothing(store: BusinessStore) -> None:
    units = store.units_of_work(lambda session: session)
    units.run_sync(lambda s: _add_user(s, "kept"))

    def fails(session: Session) -> None:
        _add_user(session, "dropped")
        raise RuntimeError("the action failed after writing")

    with pytest.raises(RuntimeError):
        units.run_sync(fails)
    assert units.run_sync(_count_users) == 1


def test_sqlite_units_of_work_queue_for_the_write_lock(store: BusinessStore) -> None:
    second_started = threading.Event()
    second_done = threading.Event()
    units = store.units_of_work(lambda session: session)

    def second() -> None:
        second_started.set()
        units.run_sync(_count_users)  # only reads, yet begins by taking the write lock
        second_done.set()

    with store.transaction() as session:
        _count_users(session)  # a read, but the transaction began with the write lock
        racer = threading.Thread(target=second)
        racer.start()
        second_started.wait(5)
        assert not second_done.wait(0.5), "BEGIN IMMEDIATE: the second unit of work must wait"
    racer.join(10)
    assert second_done.is_set()


async def test_the_health_probe_does_not_wait_for_a_writer(store: BusinessStore) -> None:
    with store.transaction() as session:
        _add_user(session, "writer")
        report = await store.probe(timeout_s=1)
    assert report.state == health_pb2.DEPENDENCY_STATE_UP, report.detail
    assert report.name == "business_db"


def test_sqlite_units_of_work_queue_in_the_process_not_on_the_busy_timeout(store: BusinessStore) -> None:
    """Units of work of this process wait for each other in the process: none waits on SQLite's
    busy timeout (which sleeps and retries), so a queue longer than that timeout still succeeds."""

    @event.listens_for(store.engine, "connect")
    def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 50")

    store.engine.dispose()  # the next connections are opened with the short timeout
    units = store.units_of_work(lambda session: session)
    failures: list[BaseException] = []

    def slow_writer(n: int) -> None:
        def work(session: Session) -> None:
            _add_user(session, f"queued-{n}")
            time.sleep(0.1)  # each holds the write lock longer than the busy timeout

        try:
            units.run_sync(work)
        except BaseException as error:  # collected: the assertion says which
            failures.append(error)

    writers = [threading.Thread(target=slow_writer, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    assert failures == []
    assert units.run_sync(_count_users) == 4


def test_a_sqlite_unit_of_work_that_never_gets_its_turn_fails_like_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    opened = BusinessStore(url)
    opened._one_writer = _ProcessWriterQueue(timeout_s=0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with opened.transaction():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            opened.units_of_work(lambda session: session).run_sync(_count_users)
    finally:
        release.set()
        holder.join(10)
        opened.close()
