"""Held-out metrics: range MAE / coverage and classifier AUC / Brier / log loss / calibration."""

from __future__ import annotations

import numpy as np

from ml_engine.market_data.domain.bars import FloatArray

CALIBRATION_BINS = 5
_EPS = 1e-6


def range_metrics(
    true_high: FloatArray, true_low: FloatArray, pred_high: FloatArray, pred_low: FloatArray
) -> dict[str, float]:
    """MAE in percent (mean of the high and low absolute errors) and coverage of the realized range."""
    err_high = np.abs(pred_high - true_high)
    err_low = np.abs(pred_low - true_low)
    covered = (true_high <= pred_high) & (true_low >= pred_low)
    return {
        "mae_pct": float((err_high.mean() + err_low.mean()) / 2.0),
        "mae_high_pct": float(err_high.mean()),
        "mae_low_pct": float(err_low.mean()),
        "coverage": float(covered.mean()),
    }


def auc(labels: FloatArray, scores: FloatArray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged; 0.5 when one class is missing."""
    y = np.asarray(labels) > 0.5
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(scores, kind="stable")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classifier_metrics(labels: FloatArray, probs: FloatArray) -> dict[str, float]:
    p = np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(labels, dtype=np.float64)
    return {
        "auc": auc(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "base_rate": float(y.mean()),
        "mean_prob": float(p.mean()),
    }


def calibration_bins(
    labels: FloatArray, probs: FloatArray, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Equal-count bins of the predicted probability: mean predicted vs observed rate."""
    order = np.argsort(probs, kind="stable")
    result = []
    for chunk in np.array_split(order, bins):
        if len(chunk) == 0:
            continue
        result.append(
            {
                "predicted": float(np.mean(probs[chunk])),
                "observed": float(np.mean(labels[chunk])),
                "rows": float(len(chunk)),
            }
        )
    return result


def classifier_beats(model: dict[str, float], base_brier: float) -> bool:
    """Materially better than the base rate: AUC above 0.52 and a Brier score below the base rate's."""
    return model["auc"] > 0.52 and model["brier"] < base_brier
