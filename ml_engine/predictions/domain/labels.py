"""Training targets, computed from the bars AFTER the as-of bar only.

Label at row t reads bars t+1..t+L (never t itself or earlier, apart from close[t] and atr[t], the
as-of values a prediction made at t also knows). Rows whose window runs past the data are NaN, so a
caller can never train on a truncated (optimistic) window.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ml_engine.market_data.domain.bars import Bars, FloatArray


def _future_windows(values: FloatArray, lookahead: int) -> np.ndarray:
    """[n - lookahead, lookahead] view: row t holds values[t+1 .. t+lookahead]."""
    return sliding_window_view(values[1:], lookahead)


def range_labels(bars: Bars, lookahead: int) -> tuple[FloatArray, FloatArray]:
    """(high_pct, low_pct) of the next `lookahead` bars relative to close[t], in percent.

    high_pct[t] = (max(high[t+1..t+L]) / close[t] - 1) * 100, low_pct likewise with min(low);
    NaN where t + lookahead >= len(bars).
    """
    if lookahead < 1:
        raise ValueError("lookahead must be at least 1")
    n = len(bars)
    high_pct = np.full(n, np.nan, dtype=np.float64)
    low_pct = np.full(n, np.nan, dtype=np.float64)
    m = n - lookahead
    if m <= 0:
        return high_pct, low_pct
    close = bars.close[:m]
    high_pct[:m] = (_future_windows(bars.high, lookahead).max(axis=1) / close - 1.0) * 100.0
    low_pct[:m] = (_future_windows(bars.low, lookahead).min(axis=1) / close - 1.0) * 100.0
    return high_pct, low_pct


def barrier_labels(
    bars: Bars, atr: FloatArray, lookahead: int, tp_atr: float, sl_atr: float
) -> tuple[FloatArray, FloatArray]:
    """(tp_long, tp_short) in {0.0, 1.0}: whether the take-profit is hit before the stop-loss.

    Long: TP at close[t] + tp_atr*atr[t] (a bar's high reaching it), SL at close[t] - sl_atr*atr[t]
    (a bar's low reaching it), scanned over bars t+1..t+L. A bar touching both counts as the stop:
    intrabar order is unknown, so the conservative outcome. Neither within L bars: 0. Short mirrored.
    NaN where t + lookahead >= len(bars) or atr[t] is NaN.
    """
    if lookahead < 1:
        raise ValueError("lookahead must be at least 1")
    n = len(bars)
    tp_long = np.full(n, np.nan, dtype=np.float64)
    tp_short = np.full(n, np.nan, dtype=np.float64)
    m = n - lookahead
    if m <= 0:
        return tp_long, tp_short
    close = bars.close[:m, None]
    a = np.asarray(atr, dtype=np.float64)[:m, None]
    highs = _future_windows(bars.high, lookahead)
    lows = _future_windows(bars.low, lookahead)
    tp_long[:m] = _first_hit_wins(highs >= close + tp_atr * a, lows <= close - sl_atr * a)
    tp_short[:m] = _first_hit_wins(lows <= close - tp_atr * a, highs >= close + sl_atr * a)
    valid = np.isfinite(a[:, 0])
    tp_long[:m][~valid] = np.nan
    tp_short[:m][~valid] = np.nan
    return tp_long, tp_short


def _first_hit_wins(take: np.ndarray, stop: np.ndarray) -> FloatArray:
    """1.0 where the first bar hitting the take-profit comes strictly before the first hitting the stop."""
    lookahead = take.shape[1]
    first_take = np.where(take.any(axis=1), take.argmax(axis=1), lookahead)
    first_stop = np.where(stop.any(axis=1), stop.argmax(axis=1), lookahead)
    return ((first_take < lookahead) & (first_take < first_stop)).astype(np.float64)
