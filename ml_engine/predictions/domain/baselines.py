"""Naive baselines every model is measured against (and that serve when no model beats them).

- ATR-scaled range: range_high_pct = high_coef * atr_pct * 100, range_low_pct = low_coef * atr_pct * 100
  (low_coef negative), coefficients fit on training rows by least absolute error, the metric
  the models are judged by.
- Last-range persistence: the past L bars' high / low relative to the as-of close.
- TP/SL: the training base rate of each classifier target (AUC 0.5 by construction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.domain.bars import Bars, FloatArray


@dataclass(frozen=True)
class AtrRangeBaseline:
    high_coef: float
    low_coef: float

    def predict(self, atr_pct: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(high_pct, low_pct) from ATR as a fraction of the close (the `atr_pct` feature)."""
        scaled = np.asarray(atr_pct, dtype=np.float64) * 100.0
        return self.high_coef * scaled, self.low_coef * scaled


def fit_atr_baseline(atr_pct: FloatArray, high_pct: FloatArray, low_pct: FloatArray) -> AtrRangeBaseline:
    """Least-absolute-error slopes through the origin, on rows where all three are finite."""
    x = np.asarray(atr_pct, dtype=np.float64) * 100.0
    ok = np.isfinite(x) & np.isfinite(high_pct) & np.isfinite(low_pct) & (x > 0)
    if not ok.any():
        raise ValueError("no usable rows to fit the ATR baseline")
    return AtrRangeBaseline(
        high_coef=_l1_slope(x[ok], np.asarray(high_pct)[ok]),
        low_coef=_l1_slope(x[ok], np.asarray(low_pct)[ok]),
    )


def _l1_slope(x: FloatArray, y: FloatArray) -> float:
    """argmin_c sum |y - c x| for x > 0: the x-weighted median of y / x."""
    ratios = y / x
    order = np.argsort(ratios, kind="stable")
    cum = np.cumsum(x[order])
    idx = int(np.searchsorted(cum, cum[-1] / 2.0))
    return float(ratios[order][idx])


def persistence_range(bars: Bars, lookahead: int) -> tuple[FloatArray, FloatArray]:
    """(high_pct, low_pct): max high / min low of bars t-L+1..t relative to close[t], in percent.

    NaN for the first L-1 rows. Uses bar t and earlier only: a prediction at t may read it.
    """
    n = len(bars)
    high_pct = np.full(n, np.nan, dtype=np.float64)
    low_pct = np.full(n, np.nan, dtype=np.float64)
    if n < lookahead:
        return high_pct, low_pct
    hi = np.lib.stride_tricks.sliding_window_view(bars.high, lookahead).max(axis=1)
    lo = np.lib.stride_tricks.sliding_window_view(bars.low, lookahead).min(axis=1)
    close = bars.close[lookahead - 1 :]
    high_pct[lookahead - 1 :] = (hi / close - 1.0) * 100.0
    low_pct[lookahead - 1 :] = (lo / close - 1.0) * 100.0
    return high_pct, low_pct


def base_rate(labels: FloatArray) -> float:
    """Share of positives among finite labels (0.5 when there are none, an uninformative prior)."""
    values = np.asarray(labels, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else 0.5
