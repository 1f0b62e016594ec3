"""Training runs for the tests: a SQLite market store holding the bundled samples, a model repository
with version 1 of the intraday XGBoost models, and the TrainingRuns of the engine over them (real
worker processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ml_engine.market_data.importing.importer import load_missing_samples
from ml_engine.shared.database import MarketStore
from ml_engine.training_runs.adapters.worker_process import ProcessLauncher, WorkerLimits
from ml_engine.training_runs.data.repository import SqlRunStore, StoredBars
from ml_engine.training_runs.runs import RunLimits, TrainingRuns
from tests.ml_engine.models.serving.tiny_models import write

XGB_MODELS = (
    "intraday_xgb_range_high",
    "intraday_xgb_range_low",
    "intraday_xgb_tp_long",
    "intraday_xgb_tp_short",
)
# A short stretch of the EURUSD hourly sample: about 860 bars, a 2-fold XGBoost run in ~20 s here.
START = int(datetime(2017, 4, 19, tzinfo=UTC).timestamp())
END = START + 1200 * 3600


@pytest.fixture
def sample_store(tmp_path: Path) -> AsyncIterator[MarketStore]:
    store = MarketStore(f"sqlite:///{tmp_path / 'market.db'}")
    store.migrate()
    load_missing_samples(store.engine)
    yield store
    store.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository where the intraday XGBoost models have version 1 (tiny models)."""
    root = tmp_path / "models"
    for name in XGB_MODELS:
        write(root, name, 1)
        (root / name / "config.pbtxt").write_text(f'name: "{name}"\n')
    return root


shadowed: list[tuple[str, str]] = []


async def record_shadow(name: str, version: str) -> None:
    shadowed.append((name, version))


def training_runs(store: MarketStore, repo: Path, time_budget_s: float = 600.0) -> TrainingRuns:
    launcher = ProcessLauncher(repo, str(store.engine.url), WorkerLimits(threads=1, nice=5, cpu_limit_s=600))
    return TrainingRuns(
        SqlRunStore(store.engine),
        StoredBars(store.engine),
        launcher,
        record_shadow,
        RunLimits(time_budget_s=time_budget_s, cancel_grace_s=5.0),
    )


@pytest.fixture
async def runs(sample_store: MarketStore, repo: Path) -> AsyncIterator[TrainingRuns]:
    shadowed.clear()
    runs = training_runs(sample_store, repo)
    yield runs
    await runs.close()
