"""Downsampling the per-bar equity curve for the API.

Method: min/max per bucket. The first bar, the last bar, and the peak and trough of the maximum
drawdown are always kept (as many of them as fit: first, last, trough, peak in that order). The
remaining budget is split into equal buckets of bars, and each bucket keeps its lowest and highest
point, so every swing wider than a bucket stays visible (unlike plain striding). Points come out in
bar order, at most `max_points` of them; a curve that already fits is returned whole.
"""

from __future__ import annotations

import numpy as np

from ml_engine.domain.backtest.metrics import max_drawdown_span
from ml_engine.domain.backtest.results import EquityCurve
from ml_engine.domain.market.bars import FloatArray, IntArray


def downsample_indices(equity: FloatArray, max_points: int) -> IntArray:
    n = len(equity)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    peak, trough, _ = max_drawdown_span(equity)
    must_keep = list(dict.fromkeys([0, n - 1, trough, peak]))[:max_points]
    kept = list(must_keep)
    # Each bucket adds at most 2 points, so the total stays within max_points.
    buckets = (max_points - len(must_keep)) // 2
    if buckets > 0:
        # Equal buckets over the interior bars 1..n-2.
        bounds = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if stop > start:
                segment = equity[start:stop]
                kept.append(start + int(np.argmin(segment)))
                kept.append(start + int(np.argmax(segment)))
    return np.unique(np.asarray(kept, dtype=np.int64))


def downsample(times: IntArray, equity: FloatArray, max_points: int) -> EquityCurve:
    indices = downsample_indices(equity, max_points)
    return EquityCurve(bar_indices=indices, times=times[indices].copy(), equity=equity[indices].copy())
