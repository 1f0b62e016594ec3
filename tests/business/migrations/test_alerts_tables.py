"""0009_alerts: watchlists in the `investment` schema, alert rules, alerts, feed states and saved
backtests in the `ml` schema (PostgreSQL), plain tables on SQLite, and back down."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from business.shared.database import MIGRATIONS_DIR, migrate
from service_runtime.databases import make_engine
from service_runtime.migrations import alembic_config

ML_TABLES = {"alert_rules", "alerts", "alert_feed_states", "saved_backtests"}


def test_alerts_tables_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    engine = make_engine(url)
    assert ML_TABLES | {"watchlists"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    command.downgrade(alembic_config(url, MIGRATIONS_DIR), "0005_billing")
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert not (ML_TABLES | {"watchlists"}) & tables and "users" in tables
    migrate(url)


def test_alerts_tables_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    inspector = inspect(engine)
    assert set(inspector.get_table_names(schema="ml")) >= ML_TABLES
    assert "watchlists" in inspector.get_table_names(schema="investment")
    assert not (ML_TABLES | {"watchlists"}) & set(inspector.get_table_names(schema="public"))
    unique = inspector.get_unique_constraints("alerts", schema="ml")
    indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("alerts", schema="ml")}
    engine.dispose()
    assert [c["column_names"] for c in unique] == [["rule_id", "bar_time"]]
    # 0011: what a feed's bar fired, read by the replicas that did not evaluate it.
    assert indexes["ix_alerts_feed_bar"] == ["symbol", "timeframe", "bar_time"]
