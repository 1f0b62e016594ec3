"""The chosen version of each model in the ML engine's database (table ml_model_choices, migration
0006), read by every engine process (models/serving/choices.py)."""

from __future__ import annotations

import time

from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, select
from sqlalchemy.dialects import mysql, sqlite

metadata = MetaData()

# Mirrors migration 0006_ml_model_choices (the migration is what creates it).
model_choices = Table(
    "ml_model_choices",
    metadata,
    Column("model", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("chosen_at", Float(53), nullable=False),
)


class SqlVersionChoices:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def chosen(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(model_choices.c.model, model_choices.c.version)).all()
        return {model: version for model, version in rows}

    def choose(self, model: str, version: int) -> None:
        values = {"model": model, "version": version, "chosen_at": time.time()}
        with self.engine.begin() as conn:
            if conn.dialect.name == "mysql":
                stmt = mysql.insert(model_choices).values(**values)
                conn.execute(
                    stmt.on_duplicate_key_update(
                        version=stmt.inserted.version, chosen_at=stmt.inserted.chosen_at
                    )
                )
            elif conn.dialect.name == "sqlite":
                lite = sqlite.insert(model_choices).values(**values)
                conn.execute(
                    lite.on_conflict_do_update(
                        index_elements=["model"],
                        set_={"version": lite.excluded.version, "chosen_at": lite.excluded.chosen_at},
                    )
                )
            else:
                raise NotImplementedError(f"no upsert for {conn.dialect.name}")
