"""Calibrated price ranges: split-conformal intervals around the median range (pure).

The range models predict the MEDIAN of the future high and of the future low (L1 loss / XGBoost's
absolute-error objective): each extreme is beyond it about half the time, so the median range holds
only about 10 % of the time. The interval widens both sides by the same multiple `q` of the as-of
ATR (in percent), so it adapts to volatility:

    upper = median_high + q * atr%        lower = median_low - q * atr%

`q` is the conformal quantile at the nominal coverage of the scores

    s = max((realized_high - median_high) / atr%, (median_low - realized_low) / atr%)

on CALIBRATION rows (the walk-forward validation blocks, strictly before the test blocks): the
realized range is inside the interval exactly when s <= q, so with exchangeable rows P(inside) is at
least the nominal coverage. A model that predicts one side only (an XGBoost range_high model) gets
the one-sided score of that side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.domain.bars import FloatArray

# The coverages a request may ask for (PredictRequest.coverage); 0 there means the default.
COVERAGES = (0.5, 0.8, 0.9, 0.95)
DEFAULT_COVERAGE = 0.8


def coverage_key(coverage: float) -> str:
    """The manifest key of a coverage: "0.8"."""
    return f"{coverage:g}"


def parse_coverage(value: float) -> float:
    """0 (unset) is the default; otherwise one of COVERAGES, as a fraction or in percent (80)."""
    if value == 0:
        return DEFAULT_COVERAGE
    fraction = value / 100.0 if value > 1 else value
    for allowed in COVERAGES:
        if math.isclose(fraction, allowed, abs_tol=1e-9):
            return allowed
    raise ValueError(
        f"coverage {value:g} is not offered; use one of {', '.join(f'{c:g}' for c in COVERAGES)}"
    )


def conformity_scores(
    y_high: FloatArray | None,
    y_low: FloatArray | None,
    pred_high: FloatArray | None,
    pred_low: FloatArray | None,
    atr_pct100: FloatArray,
) -> FloatArray:
    """The score of each row (module doc); a side whose prediction is None is left out."""
    scale = np.maximum(np.asarray(atr_pct100, dtype=np.float64), 1e-12)
    parts = []
    if pred_high is not None and y_high is not None:
        parts.append((np.asarray(y_high) - np.asarray(pred_high)) / scale)
    if pred_low is not None and y_low is not None:
        parts.append((np.asarray(pred_low) - np.asarray(y_low)) / scale)
    if not parts:
        raise ValueError("a conformity score needs at least one side")
    return np.asarray(np.max(np.stack(parts), axis=0), dtype=np.float64)


def conformal_quantile(scores: FloatArray, coverage: float) -> float:
    """The ceil((n + 1) c)-th smallest score (split-conformal finite-sample quantile); the largest
    when that rank exceeds n."""
    values = np.sort(np.asarray(scores, dtype=np.float64)[np.isfinite(scores)])
    if len(values) == 0:
        raise ValueError("no calibration rows")
    rank = min(len(values), math.ceil((len(values) + 1) * coverage))
    return float(values[rank - 1])


def conformal_quantiles(scores: FloatArray) -> dict[str, float]:
    """q for every offered coverage, by coverage_key."""
    return {coverage_key(c): conformal_quantile(scores, c) for c in COVERAGES}


@dataclass(frozen=True)
class Interval:
    """A price range meant to hold with `coverage` (percent columns relative to the as-of close)."""

    coverage: float
    high_pct: float
    low_pct: float
    # Share of held-out walk-forward test rows it held on (the card's figure; 0 when unknown).
    heldout_coverage: float = 0.0
    # Width (percent) of the ATR baseline's interval at the same coverage for this bar (0: unknown).
    baseline_width_pct: float = 0.0
    # The quantile served (ATRs each side of the median range), the shipped one, and how many live
    # scores adapted it (domain/adaptive.py; 0: the shipped quantile alone).
    quantile: float = 0.0
    shipped_quantile: float = 0.0
    live_scores: int = 0


def interval_pct(
    median_high_pct: float, median_low_pct: float, atr_pct: float, q: float
) -> tuple[float, float]:
    """(upper, lower) in percent of the close; `atr_pct` is the feature (ATR / close, a fraction)."""
    scale = atr_pct * 100.0
    upper, lower = median_high_pct + q * scale, median_low_pct - q * scale
    return (upper, lower) if upper >= lower else (lower, upper)


def covered(y_high: FloatArray, y_low: FloatArray, upper: FloatArray, lower: FloatArray) -> np.ndarray:
    """Rows whose realized high and low both stay inside [lower, upper]."""
    return np.asarray((np.asarray(y_high) <= upper) & (np.asarray(y_low) >= lower))
