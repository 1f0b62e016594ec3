"""make_engine on SQLite files: WAL mode with full syncs, on every connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from service_runtime.databases import make_engine


def test_sqlite_files_run_in_wal_mode_with_full_syncs(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'store.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        engine.dispose()
    # The mode is the file's: another program opening it later finds it too.
    assert (
        sqlite3.connect(tmp_path / "nested" / "store.db").execute("PRAGMA journal_mode").fetchone()[0]
        == "wal"
    )


def test_a_writer_commits_while_a_reader_holds_its_snapshot(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as reader:
            reader.exec_driver_sql("BEGIN")
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1
            # With the rollback journal this commit waits for the reader, then fails as "locked".
            writer = sqlite3.connect(tmp_path / "store.db", timeout=0.2, isolation_level=None)
            writer.execute("INSERT INTO t VALUES (2)")
            writer.close()
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 1  # its snapshot
            reader.exec_driver_sql("COMMIT")
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 2
    finally:
        engine.dispose()


def test_in_memory_databases_are_left_as_they_are() -> None:
    engine = make_engine("sqlite:///:memory:")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "memory"
