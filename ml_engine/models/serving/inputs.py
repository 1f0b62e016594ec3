"""From feature rows (`compute_features`) to a model's input tensor: the model's window of rows,
normalized with the mean / std it was trained with, NaN -> 0 after normalization (0 is then the
training mean, the least surprising value for a feature still in its warm-up)."""

from __future__ import annotations

import numpy as np

from ml_engine.predictions.domain.model_metadata import ModelMetadata
from service_runtime.errors import FailedPrecondition

# Each model version's mean and std as arrays, made once (a Predict for all horizons normalises
# 18 times): id -> (the metadata, mean, std), the metadata kept so that an id is never reused.
_SCALINGS: dict[int, tuple[ModelMetadata, np.ndarray, np.ndarray]] = {}
_SCALINGS_KEPT = 512


def _scaling(meta: ModelMetadata) -> tuple[np.ndarray, np.ndarray]:
    kept = _SCALINGS.get(id(meta))
    if kept is not None and kept[0] is meta:
        return kept[1], kept[2]
    mean = np.asarray(meta.norm_mean, dtype=np.float64)
    std = np.asarray(meta.norm_std, dtype=np.float64)
    # A constant feature has std 0 in training: divide by 1 instead of producing inf.
    std = np.where(std > 0, std, 1.0)
    if len(_SCALINGS) >= _SCALINGS_KEPT:  # versions come and go with reloads: start over
        _SCALINGS.clear()
    _SCALINGS[id(meta)] = (meta, mean, std)
    return mean, std


def _normalize(meta: ModelMetadata, rows: np.ndarray) -> np.ndarray:
    mean, std = _scaling(meta)
    x = np.asarray(rows, dtype=np.float64) - mean  # a new array: the divisions below are in place
    x /= std
    np.copyto(x, 0.0, where=~np.isfinite(x))  # NaN and infinities -> the training mean
    return x.astype(np.float32)


def _check(meta: ModelMetadata, features: np.ndarray) -> None:
    if features.ndim != 2 or features.shape[1] != len(meta.feature_names):
        raise ValueError(f"features must be [rows, {len(meta.feature_names)}], got {list(features.shape)}")
    needed = max(1, meta.window_bars)
    if features.shape[0] < needed:
        raise FailedPrecondition(
            f"model {meta.name} needs at least {needed} bars of {meta.timeframe} history, got "
            f"{features.shape[0]}"
        )


def model_input(meta: ModelMetadata, features: np.ndarray) -> np.ndarray:
    """The input for a prediction as of the last row: [1, F] (tabular) or [1, W, F] (sequence)."""
    _check(meta, features)
    if meta.window_bars <= 1:
        return _normalize(meta, features[-1:])
    return _normalize(meta, features[-meta.window_bars :])[np.newaxis]


def model_inputs_all(meta: ModelMetadata, features: np.ndarray) -> np.ndarray:
    """Inputs as of every row (backtests): [n, F], or [n - W + 1, W, F] sliding windows where
    window i ends at row i + W - 1."""
    _check(meta, features)
    x = _normalize(meta, features)
    if meta.window_bars <= 1:
        return x
    windows = np.lib.stride_tricks.sliding_window_view(x, meta.window_bars, axis=0)  # [n-W+1, F, W]
    return np.ascontiguousarray(windows.transpose(0, 2, 1))
