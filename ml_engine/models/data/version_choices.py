"""What was chosen for each model (the serving version, the shadow version) in the ML engine's
database (table ml_model_choices, migration 0006), read by every engine process
(models/serving/choices.py)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    case,
    select,
    update,
)
from sqlalchemy.dialects import mysql, sqlite

from ml_engine.models.serving.choices import Choice

metadata = MetaData()

# Mirrors migration 0006_ml_model_choices (the migration is what creates it).
model_choices = Table(
    "ml_model_choices",
    metadata,
    Column("model", String(255), primary_key=True),
    Column("version", Integer, nullable=True),
    Column("chosen_at", Float(53), nullable=True),
    Column("newest_then", Integer, nullable=True),
    Column("shadow_version", Integer, nullable=True),
    Column("shadow_started_at", Float(53), nullable=True),
)


class SqlVersionChoices:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def chosen(self) -> dict[str, Choice]:
        c = model_choices.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.model, c.version, c.shadow_version, c.shadow_started_at, c.newest_then)
            ).all()
        return {
            r.model: Choice(
                r.version,
                r.shadow_version,
                r.shadow_started_at if r.shadow_version is not None else 0.0,
                r.newest_then,
            )
            for r in rows
            if r.version is not None or r.shadow_version is not None
        }

    def choose(self, model: str, version: int, newest_then: int | None) -> None:
        c = model_choices.c
        with self.engine.begin() as conn:
            _upsert(
                conn,
                {"model": model, "version": version, "chosen_at": time.time(), "newest_then": newest_then},
                # A shadow of the version that now serves has ended.
                {
                    "version": version,
                    "chosen_at": time.time(),
                    "newest_then": newest_then,
                    "shadow_version": case((c.shadow_version == version, None), else_=c.shadow_version),
                },
            )

    def choose_shadow(self, model: str, version: int, started_at: float) -> None:
        with self.engine.begin() as conn:
            changes = {"shadow_version": version, "shadow_started_at": started_at}
            _upsert(conn, {"model": model, **changes}, changes)

    def end_shadow(self, model: str, version: int | None = None) -> bool:
        c = model_choices.c
        ending = update(model_choices).where(c.model == model, c.shadow_version.is_not(None))
        if version is not None:
            ending = ending.where(c.shadow_version == version)
        with self.engine.begin() as conn:
            # One conditional write: of two engines ending the same shadow, one changes the row.
            return conn.execute(ending.values(shadow_version=None)).rowcount == 1


def _upsert(conn: Connection, row: dict[str, Any], changes: dict[str, Any]) -> None:
    """Insert `row`, or apply `changes` to the model's row (one statement: concurrent writers wait)."""
    if conn.dialect.name == "mysql":
        conn.execute(mysql.insert(model_choices).values(**row).on_duplicate_key_update(changes))
    elif conn.dialect.name == "sqlite":
        conn.execute(
            sqlite.insert(model_choices)
            .values(**row)
            .on_conflict_do_update(index_elements=["model"], set_=changes)
        )
    else:
        raise NotImplementedError(f"no upsert for {conn.dialect.name}")
