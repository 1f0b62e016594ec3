"""0010_paper_signal_results: `orders.signal_models` (in `trading` on PostgreSQL), and back down."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from business.shared.database import MIGRATIONS_DIR, migrate
from service_runtime.databases import make_engine
from service_runtime.migrations import alembic_config


def order_columns(url: str, schema: str | None = None) -> set[str]:
    engine = make_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("orders", schema=schema)}
    engine.dispose()
    return columns


def test_signal_models_column_on_sqlite_and_back_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/business.db"
    migrate(url)
    assert "signal_models" in order_columns(url)
    command.downgrade(alembic_config(url, MIGRATIONS_DIR), "0009_alerts")
    columns = order_columns(url)
    assert "signal_models" not in columns and "prediction_id" in columns
    migrate(url)
    assert "signal_models" in order_columns(url)


def test_signal_models_column_on_postgresql(postgres_url: str) -> None:
    assert "signal_models" in order_columns(postgres_url, schema="trading")
