"""Builds the training runs from the engine's settings and market data store."""

from __future__ import annotations

from pathlib import Path

from ml_engine.config import MlEngineSettings
from ml_engine.shared.database import MarketStore
from ml_engine.training_runs.adapters.worker_process import ProcessLauncher, WorkerLimits
from ml_engine.training_runs.data.repository import SqlRunStore, StoredBars
from ml_engine.training_runs.runs import RunLimits, TrainingRuns
from ml_engine.training_runs.shadow import put_in_shadow


def build_training_runs(settings: MlEngineSettings, store: MarketStore) -> TrainingRuns:
    limits = WorkerLimits(
        threads=settings.ml_training_threads,
        nice=settings.ml_training_nice,
        cpu_limit_s=settings.ml_training_cpu_limit_s,
    )
    launcher = ProcessLauncher(Path(settings.model_path).resolve(), settings.market_database_url, limits)
    return TrainingRuns(
        SqlRunStore(store.engine),
        StoredBars(store.engine),
        launcher,
        put_in_shadow,
        RunLimits(settings.ml_training_time_budget_s, settings.ml_training_cancel_grace_s),
    )
