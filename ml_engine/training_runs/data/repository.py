"""Training runs in the ML engine's database (table ml_training_runs, migration 0005)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.sql.expression import false as sql_false

from ml_engine.market_data.data.repository import count_bars, get_symbol
from ml_engine.training_runs.domain.runs import Progress, RunSpec, RunState, TrainingRun

metadata = MetaData()

# Mirrors migration 0005_ml_training_runs (the migration is what creates it).
training_runs = Table(
    "ml_training_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("family", String(16), nullable=False),
    Column("horizon", String(16), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("progress", Text, nullable=False),
    Column("produced_version", String(16), nullable=False),
    Column("models", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("started_by", String(128), nullable=False),
    Column("created_at", Float(53), nullable=False),
    Column("finished_at", Float(53), nullable=True),
    # The lease (migration 0008): the supervising engine, its last heartbeat, a cancel asked elsewhere.
    Column("engine", String(255), nullable=False, server_default=""),
    Column("heartbeat_at", Float(53), nullable=True),
    Column("cancel_requested", Boolean, nullable=False, server_default=sql_false()),
    Index("ix_ml_training_runs_state", "state"),
    Index("ix_ml_training_runs_created_at", "created_at"),
)


def _row(run: TrainingRun) -> dict[str, object]:
    spec = run.spec
    params = {"symbols": list(spec.symbols), "start": spec.start, "end": spec.end, "folds": spec.folds}
    return {
        "id": run.id,
        "family": spec.family,
        "horizon": spec.horizon,
        "params": json.dumps(params),
        "state": run.state.value,
        "progress": json.dumps(asdict(run.progress)),
        "produced_version": run.produced_version,
        "models": json.dumps(list(run.models)),
        "error": run.error,
        "started_by": run.started_by,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "engine": run.engine,
        "heartbeat_at": run.heartbeat_at,
    }


def _run(row: object) -> TrainingRun:
    m = row._mapping  # type: ignore[attr-defined]
    params = json.loads(m["params"])
    spec = RunSpec(
        m["family"], m["horizon"], tuple(params["symbols"]), params["start"], params["end"], params["folds"]
    )
    return TrainingRun(
        id=m["id"],
        spec=spec,
        started_by=m["started_by"],
        created_at=m["created_at"],
        state=RunState(m["state"]),
        progress=Progress(**json.loads(m["progress"])),
        produced_version=m["produced_version"],
        models=tuple(json.loads(m["models"])),
        error=m["error"],
        finished_at=m["finished_at"],
        engine=m["engine"],
        heartbeat_at=m["heartbeat_at"],
        cancel_requested=bool(m["cancel_requested"]),
    )


IN_PROGRESS = (RunState.PENDING.value, RunState.RUNNING.value)


class SqlRunStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, run: TrainingRun) -> None:
        with self.engine.begin() as conn:
            conn.execute(training_runs.insert().values(**_row(run)))

    def update(self, run: TrainingRun) -> None:
        values = _row(run)
        values.pop("id")
        with self.engine.begin() as conn:
            conn.execute(update(training_runs).where(training_runs.c.id == run.id).values(**values))

    def get(self, run_id: str) -> TrainingRun | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(training_runs).where(training_runs.c.id == run_id)).first()
        return _run(row) if row else None

    def latest(self, limit: int) -> Sequence[TrainingRun]:
        query = select(training_runs).order_by(training_runs.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_run(r) for r in conn.execute(query)]

    def unfinished(self) -> Sequence[TrainingRun]:
        with self.engine.connect() as conn:
            return [
                _run(r)
                for r in conn.execute(select(training_runs).where(training_runs.c.state.in_(IN_PROGRESS)))
            ]

    def beat(self, run_id: str, at: float) -> bool:
        in_progress = (training_runs.c.id == run_id) & training_runs.c.state.in_(IN_PROGRESS)
        with self.engine.begin() as conn:
            conn.execute(update(training_runs).where(in_progress).values(heartbeat_at=at))
            asked = conn.execute(select(training_runs.c.cancel_requested).where(in_progress)).scalar()
        return bool(asked)

    def request_cancel(self, run_id: str) -> bool:
        in_progress = (training_runs.c.id == run_id) & training_runs.c.state.in_(IN_PROGRESS)
        with self.engine.begin() as conn:
            return (
                conn.execute(update(training_runs).where(in_progress).values(cancel_requested=True)).rowcount
                > 0
            )

    def expire(self, failed: TrainingRun, stale_before: float) -> bool:
        last_sign = func.coalesce(training_runs.c.heartbeat_at, training_runs.c.created_at)
        still_lost = (
            (training_runs.c.id == failed.id)
            & training_runs.c.state.in_(IN_PROGRESS)
            & (last_sign < stale_before)
        )
        values = _row(failed)
        values.pop("id")
        with self.engine.begin() as conn:
            return conn.execute(update(training_runs).where(still_lost).values(**values)).rowcount > 0


class StoredBars:
    """The BarSource of the run checks: the market data store's symbols and bar counts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def stored_timeframe(self, symbol: str) -> str | None:
        with self.engine.connect() as conn:
            stored = get_symbol(conn, symbol)
        return stored.base_timeframe if stored else None

    def count(self, symbol: str, timeframe: str, start: int, end: int) -> int:
        with self.engine.connect() as conn:
            return count_bars(conn, symbol, timeframe, start, end)
