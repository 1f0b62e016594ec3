"""Downsampling the per-bar equity curve for the API.

Method: min/max per bucket. The first bar, the last bar, and the peak and trough of the maximum
drawdown are always kept (as many of them as fit: first, last, trough, peak in that order). The
remaining budget is split into equal buckets of bars, and each bucket keeps its lowest and highest
point, so every swing wider than a bucket stays visible (unlike plain striding). Points come out in
bar order, at most `max_points` of them; a curve that already fits is returned whole.
"""

from __future__ import annotations

import numpy as np

from ml_engine.backtests.domain.metrics import DrawdownSpan, max_drawdown_span
from ml_engine.backtests.domain.results import EquityCurve
from ml_engine.market_data.domain.bars import FloatArray, IntArray


def downsample_indices(equity: FloatArray, max_points: int, span: DrawdownSpan | None = None) -> IntArray:
    """Bar indices to keep, ascending; `span` is max_drawdown_span(equity) when the caller has it."""
    n = len(equity)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    span = span or max_drawdown_span(equity)
    must_keep = list(dict.fromkeys([0, n - 1, span.trough, span.peak]))[:max_points]
    # Each bucket adds at most 2 points, so the total stays within max_points.
    buckets = (max_points - len(must_keep)) // 2
    if buckets == 0:
        return np.unique(np.asarray(must_keep, dtype=np.int64))
    # `buckets` buckets over the interior bars 1..n-2: equal widths as a 2-D view (no copy) for
    # argmin/argmax per row, the remainder joining the last bucket.
    interior = equity[1 : n - 1]
    width = len(interior) // buckets
    body = interior[: (buckets - 1) * width].reshape(buckets - 1, width)
    tail = interior[(buckets - 1) * width :]
    offsets = 1 + np.arange(buckets, dtype=np.int64) * width
    lows = offsets + np.append(np.argmin(body, axis=1), np.argmin(tail))
    highs = offsets + np.append(np.argmax(body, axis=1), np.argmax(tail))
    return np.unique(np.concatenate([np.asarray(must_keep, dtype=np.int64), lows, highs]))


def downsample(
    times: IntArray, equity: FloatArray, max_points: int, span: DrawdownSpan | None = None
) -> EquityCurve:
    indices = downsample_indices(equity, max_points, span)
    return EquityCurve(bar_indices=indices, times=times[indices], equity=equity[indices])
