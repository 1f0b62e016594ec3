"""Wiring of the `ml_signals` backtest strategy: the ensembles' TP classifiers as plain callables.

The strategy (ml_engine/backtests/domain/strategies/ml_signals.py) is pure; here each horizon's TP
predictor is built from the model registry (`infer_rows_sync`, every row in one batch) and the manifest
weights, combined with the same `combine_column` Predict uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import numpy as np

from ml_engine.backtests.domain.strategies import register_strategy
from ml_engine.backtests.domain.strategies.ml_signals import MlSignalModel, TpPredictor, ml_signals_definition
from ml_engine.market_data.domain.bars import FloatArray
from ml_engine.predictions.domain.combine import (
    active_members,
    baseline_outputs,
    calibrated_tp,
    combine_column,
    models_to_run,
)
from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER, HorizonEnsemble
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.model_metadata import TP_COLUMNS, ModelMetadata
from service_runtime.errors import DomainError


class SyncInference(Protocol):
    @property
    def values(self) -> np.ndarray: ...
    @property
    def metadata(self) -> ModelMetadata: ...


class SyncModelServer(Protocol):
    def metadata(self, name: str) -> ModelMetadata: ...

    def infer_rows_sync(self, name: str, features: np.ndarray) -> SyncInference: ...


def tp_model_names(ensemble: HorizonEnsemble) -> list[str]:
    return models_to_run(ensemble, TP_COLUMNS)


def tp_predictor(registry: SyncModelServer, ensemble: HorizonEnsemble) -> TpPredictor:
    names = tp_model_names(ensemble)

    def predict(features: FloatArray) -> tuple[FloatArray, FloatArray]:
        n = len(features)
        outputs: dict[tuple[str, str], FloatArray] = {}
        for name in names:
            meta = registry.metadata(name)
            if n < max(1, meta.window_bars):
                nan = np.full(n, np.nan)
                return nan, nan.copy()
            inference = registry.infer_rows_sync(name, features)
            values = np.asarray(inference.values, dtype=np.float64)
            # A sequence model's first output is as of row W-1: earlier rows have no input.
            full = np.full((n, values.shape[1]), np.nan)
            full[n - len(values) :] = values
            # The columns of the version that ran (a hot reload may have swapped it since `meta`).
            for j, column in enumerate(inference.metadata.output_columns):
                outputs[(name, column)] = full[:, j]
        tp_long = np.full(n, np.nan)
        tp_short = np.full(n, np.nan)
        baseline = baseline_outputs(ensemble, 0.0)  # only the TP base rates are read
        long_members = active_members(ensemble, "tp_long")
        short_members = active_members(ensemble, "tp_short")
        for i in range(n):
            row = {key: float(v[i]) for key, v in outputs.items()}
            long_p = combine_column(long_members, row, baseline, "tp_long")
            short_p = combine_column(short_members, row, baseline, "tp_short")
            # NaN (no model input yet) stays NaN; otherwise calibrated like a served prediction.
            tp_long[i] = calibrated_tp(ensemble, "tp_long", long_p) if np.isfinite(long_p) else np.nan
            tp_short[i] = calibrated_tp(ensemble, "tp_short", short_p) if np.isfinite(short_p) else np.nan
        return tp_long, tp_short

    return predict


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _horizon_models(registry: SyncModelServer, ensemble: HorizonEnsemble) -> list[ModelMetadata]:
    """Every model the manifest lists for the horizon, weight 0 included (a baseline-only ensemble's
    coefficients were fit on the same training rows): the strategy trades on no bar any of them saw."""
    running = set(models_to_run(ensemble))
    listed = {m.model for members in ensemble.members.values() for m in members if m.model != BASELINE_MEMBER}
    metas = []
    for name in sorted(listed):
        try:
            metas.append(registry.metadata(name))
        except DomainError:
            if name in running:
                raise
    return metas


def ml_signal_models(
    registry: SyncModelServer,
    manifest: dict[str, HorizonEnsemble],
    predictors: dict[str, TpPredictor] | None = None,
) -> dict[str, MlSignalModel]:
    """A model per horizon of the manifest, from the active versions' metadata (training end, window)."""
    models: dict[str, MlSignalModel] = {}
    for name, ensemble in manifest.items():
        horizon = HORIZONS.get(name)
        if horizon is None:
            continue
        metas = [registry.metadata(m) for m in tp_model_names(ensemble)]
        trained_until = max((_epoch(m.training.end) for m in _horizon_models(registry, ensemble)), default=0)
        window = max((m.window_bars for m in metas), default=1)
        predict = predictors[name] if predictors and name in predictors else tp_predictor(registry, ensemble)
        models[name] = MlSignalModel(horizon, ensemble, trained_until, max(1, window), predict)
    return models


def register_ml_signals(registry: SyncModelServer, manifest: dict[str, HorizonEnsemble]) -> None:
    """Registers (or replaces) the `ml_signals` strategy; call before BacktestHandlers is built (it
    reads the catalogue once). The registry need not be started yet: models are read per backtest."""
    predictors = {name: tp_predictor(registry, ensemble) for name, ensemble in manifest.items()}
    register_strategy(
        ml_signals_definition(lambda: ml_signal_models(registry, manifest, predictors)), replace=True
    )
