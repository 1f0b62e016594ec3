"""Shared pieces of the prediction tests: the committed model repository, served by the real
registry (ONNX Runtime, CPU), and stored series for edge cases (labelled synthetic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from ml_engine.config import MlEngineSettings
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.row_checks import BarRow
from ml_engine.market_data.domain.symbols import SymbolInfo
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.domain.ensemble import HorizonEnsemble, load_manifest
from tests.ml_engine.models.conftest import start_serving

MODEL_REPOSITORY = Path(__file__).resolve().parents[3] / "ml_engine" / "model_repository"


def settings() -> MlEngineSettings:
    return MlEngineSettings(  # type: ignore[call-arg]
        _env_file=None,
        model_path=str(MODEL_REPOSITORY),
        ml_execution_provider="cpu",
        ml_intra_op_threads=1,
        ml_warmup_runs=1,
        ml_batching=True,
        ml_batch_max_size=16,
        ml_batch_max_delay_ms=1.0,
        ml_model_watch_interval_s=0.0,
    )


def manifest() -> dict[str, HorizonEnsemble]:
    return load_manifest(MODEL_REPOSITORY)


async def started_registry() -> tuple[ModelRegistry, VersionActivation]:
    return await start_serving(settings())


def store_synthetic(
    engine: Engine,
    symbol: str,
    timeframe: str,
    seconds: int,
    n: int,
    start: int = 1_600_000_000,
    seed: int = 3,
) -> Bars:
    """`n` bars of a random walk (synthetic, for edge cases only) stored as `symbol` at `timeframe`."""
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0005, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0005, n)))
    times = start - start % seconds + seconds * np.arange(n)
    rows = [
        BarRow(i + 2, int(times[i]), float(open_[i]), float(high[i]), float(low[i]), float(close[i]), 0.0)
        for i in range(n)
    ]
    with engine.begin() as conn:
        repo.save_symbol(
            conn,
            repo.StoredSymbol(
                SymbolInfo(symbol, f"{symbol} (synthetic)", "fx", 0.00001, "USD", "UTC"), timeframe
            ),
        )
        repo.upsert_bars(conn, symbol, timeframe, rows)
    return Bars.from_columns(times, open_, high, low, close, np.zeros(n))
