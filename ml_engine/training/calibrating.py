"""Held-out evaluation of the calibration steps: conformal range intervals and Platt-scaled TP/SL
probabilities, each fit on a fold's VALIDATION rows and scored on that fold's TEST rows.

Validation rows of a fold end a purge gap before its test block starts (walk_forward.py), so no
calibration step ever reads a test bar; `check_before` says so for every fold and series.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.domain.bars import FloatArray, IntArray
from ml_engine.predictions.domain.calibration import (
    IDENTITY,
    apply_platt,
    brier,
    choose_calibration,
    expected_calibration_error,
    reliability_bins,
)
from ml_engine.predictions.domain.intervals import (
    COVERAGES,
    conformal_quantile,
    conformity_scores,
    coverage_key,
    covered,
)


@dataclass(frozen=True)
class RangeFold:
    """One fold's median range predictions ([n, 2] high, low; a NaN column for a side the model does
    not predict), the realized labels [n, 2] and the ATR in percent, on validation and test rows."""

    index: int
    y_val: FloatArray
    p_val: FloatArray
    atr_val: FloatArray
    y_test: FloatArray
    p_test: FloatArray
    atr_test: FloatArray


def _sides(p: FloatArray) -> tuple[bool, bool]:
    return bool(np.isfinite(p[:, 0]).all()), bool(np.isfinite(p[:, 1]).all())


def _scores(y: FloatArray, p: FloatArray, atr: FloatArray) -> FloatArray:
    high, low = _sides(p)
    return conformity_scores(
        y[:, 0] if high else None,
        y[:, 1] if low else None,
        p[:, 0] if high else None,
        p[:, 1] if low else None,
        atr,
    )


def _bounds(p: FloatArray, atr: FloatArray, q: float) -> tuple[FloatArray, FloatArray]:
    high, low = _sides(p)
    upper = p[:, 0] + q * atr if high else np.full(len(p), np.inf)
    lower = p[:, 1] - q * atr if low else np.full(len(p), -np.inf)
    return upper, lower


def _width(p: FloatArray, upper: FloatArray, lower: FloatArray) -> FloatArray:
    """Two-sided: upper - lower; one side: its distance from the close (percent)."""
    high, low = _sides(p)
    if high and low:
        return upper - lower
    return np.asarray(upper if high else -lower)


def interval_metrics(
    folds: list[RangeFold],
) -> tuple[dict[str, float], list[dict[str, float]], dict[str, float]]:
    """Pooled held-out coverage and mean width per offered coverage, per-fold figures, and the last
    fold's conformal quantiles (what ships)."""
    metrics: dict[str, float] = {}
    per_fold: list[dict[str, float]] = [{"fold": float(f.index), "rows": float(len(f.y_test))} for f in folds]
    last: dict[str, float] = {}
    for c in COVERAGES:
        key = coverage_key(c)
        inside, widths = [], []
        for f, entry in zip(folds, per_fold, strict=True):
            q = conformal_quantile(_scores(f.y_val, f.p_val, f.atr_val), c)
            upper, lower = _bounds(f.p_test, f.atr_test, q)
            hit = covered(f.y_test[:, 0], f.y_test[:, 1], upper, lower)
            width = _width(f.p_test, upper, lower)
            inside.append(hit)
            widths.append(width)
            entry[f"coverage_{key}"] = float(hit.mean())
            entry[f"width_pct_{key}"] = float(width.mean())
            last[key] = q
        metrics[f"interval_coverage_{key}"] = float(np.concatenate(inside).mean())
        metrics[f"interval_width_pct_{key}"] = float(np.concatenate(widths).mean())
        fold_cov = [e[f"coverage_{key}"] for e in per_fold]
        metrics[f"interval_coverage_{key}_fold_min"] = float(min(fold_cov))
        metrics[f"interval_coverage_{key}_fold_max"] = float(max(fold_cov))
    return metrics, per_fold, last


@dataclass(frozen=True)
class ProbabilityFold:
    index: int
    y_val: FloatArray
    p_val: FloatArray
    y_test: FloatArray
    p_test: FloatArray


def probability_metrics(
    folds: list[ProbabilityFold],
) -> tuple[dict[str, float], list[dict[str, float]], tuple[float, float]]:
    """Held-out Brier and ECE before and after each fold's calibration map (chosen and fit on its
    validation rows: `choose_calibration`), the calibrated reliability bins, and the last fold's map
    (what ships)."""
    y = np.concatenate([f.y_test for f in folds])
    raw = np.concatenate([f.p_test for f in folds])
    params = [choose_calibration(f.p_val, f.y_val) for f in folds]
    cal = np.concatenate([apply_platt(f.p_test, prm) for f, prm in zip(folds, params, strict=True)])
    metrics = {
        "platt_folds": float(sum(prm != IDENTITY for prm in params)),
        "brier_raw": brier(y, raw),
        "brier_calibrated": brier(y, cal),
        "ece_raw": expected_calibration_error(y, raw),
        "ece_calibrated": expected_calibration_error(y, cal),
    }
    return metrics, reliability_bins(y, cal), params[-1]


def check_before(validation: IntArray, test: IntArray, lengths: list[int]) -> None:
    """Raises unless, within every series, every validation row comes strictly before every test row."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    for start, stop in itertools.pairwise(offsets):
        val = validation[(validation >= start) & (validation < stop)]
        tst = test[(test >= start) & (test < stop)]
        if len(val) and len(tst) and val.max() >= tst.min():
            raise AssertionError("a calibration (validation) row is not before the test block")
