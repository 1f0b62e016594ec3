"""Calibrated TP/SL probabilities: Platt scaling fit on validation rows only (pure).

calibrated = sigmoid(a * logit(p) + b), (a, b) by maximum likelihood (Newton's method with a small
ridge) on the walk-forward validation block; a = 1, b = 0 is the identity. Two parameters, so a
validation block of a few hundred rows is enough (isotonic regression overfits such blocks), and
the map is monotone: it moves probabilities towards what happened without reordering them, so the
AUC stays. `choose_calibration` keeps the identity unless Platt scaling fit on the first half of the
validation block lowers the Brier score of its second half (probabilities that are calibrated
already only get noisier from a refit). Also here: the Brier score, the expected calibration error
and reliability-diagram bins.
"""

from __future__ import annotations

import math

import numpy as np

from ml_engine.market_data.domain.bars import FloatArray

IDENTITY = (1.0, 0.0)
RELIABILITY_BINS = 10
_EPS = 1e-6
_RIDGE = 1e-3


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def fit_platt(probs: FloatArray, labels: FloatArray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) maximising the likelihood of `labels` under sigmoid(a * logit(probs) + b)."""
    x = _logit(probs)
    y = np.asarray(labels, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) == 0:
        return IDENTITY
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = p * (1 - p)
        grad = np.array([np.sum((p - y) * x) + _RIDGE * (a - 1.0), np.sum(p - y) + _RIDGE * b])
        hess = np.array([[np.sum(w * x * x) + _RIDGE, np.sum(w * x)], [np.sum(w * x), np.sum(w) + _RIDGE]])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        a, b = a - float(step[0]), b - float(step[1])
        if not (math.isfinite(a) and math.isfinite(b)):
            return IDENTITY
        if float(np.abs(step).max()) < 1e-9:
            break
    return a, b


def choose_calibration(probs: FloatArray, labels: FloatArray) -> tuple[float, float]:
    """Platt scaling fit on all of `probs` (validation rows, in time order) when a fit on their first
    half beats the identity on their second half; otherwise the identity."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    half = len(p) // 2
    if half < 20:
        return IDENTITY
    early = fit_platt(p[:half], y[:half])
    if brier(y[half:], apply_platt(p[half:], early)) >= brier(y[half:], p[half:]):
        return IDENTITY
    return fit_platt(p, y)


def apply_platt(probs: FloatArray, params: tuple[float, float] | list[float]) -> FloatArray:
    a, b = float(params[0]), float(params[1])
    return np.asarray(1.0 / (1.0 + np.exp(-(a * _logit(probs) + b))))


def calibrate(p: float, params: tuple[float, float] | list[float] | None) -> float:
    """One probability through the map (None: unchanged, an older manifest). `apply_platt` in
    scalar math: numpy's per-call overhead on one number was 6% of an on-demand prediction."""
    if params is None or not math.isfinite(p):
        return p
    q = min(max(p, _EPS), 1 - _EPS)
    z = float(params[0]) * math.log(q / (1 - q)) + float(params[1])
    # sigmoid(z) without overflow: exp of a large positive number is never taken.
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def brier(labels: FloatArray, probs: FloatArray) -> float:
    return float(np.mean((np.asarray(probs, dtype=np.float64) - np.asarray(labels, dtype=np.float64)) ** 2))


def reliability_bins(
    labels: FloatArray, probs: FloatArray, bins: int = RELIABILITY_BINS
) -> list[dict[str, float]]:
    """Equal-width bins of the predicted probability (a reliability diagram): mean predicted vs
    observed rate and the row count; empty bins are left out."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1)
    result = []
    for k in range(bins):
        mask = index == k
        if mask.any():
            result.append(
                {
                    "low": k / bins,
                    "high": (k + 1) / bins,
                    "predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                    "rows": float(mask.sum()),
                }
            )
    return result


def expected_calibration_error(labels: FloatArray, probs: FloatArray, bins: int = RELIABILITY_BINS) -> float:
    """Row-weighted mean |observed - predicted| over the reliability bins."""
    n = len(np.asarray(probs))
    if n == 0:
        return 0.0
    return float(
        sum(b["rows"] * abs(b["observed"] - b["predicted"]) for b in reliability_bins(labels, probs, bins))
        / n
    )
