"""Labels on hand-made bars whose outcomes are known."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.market_data.domain.bars import Bars
from ml_engine.predictions.domain.labels import barrier_labels, range_labels


def _bars(highs: list[float], lows: list[float], closes: list[float]) -> Bars:
    n = len(closes)
    return Bars.from_columns(np.arange(n) * 3600, closes, highs, lows, closes, np.ones(n))


def test_range_labels_are_the_next_bars_extremes_in_percent() -> None:
    bars = _bars([100, 103, 101, 110], [99, 98, 95, 100], [100, 102, 100, 105])
    high, low = range_labels(bars, 2)
    # Row 0 reads bars 1 and 2: max high 103, min low 95, relative to close 100.
    assert high[0] == pytest.approx(3.0)
    assert low[0] == pytest.approx(-5.0)
    # Row 1 reads bars 2 and 3: 110 / 102 and 95 / 102.
    assert high[1] == pytest.approx((110 / 102 - 1) * 100)
    assert low[1] == pytest.approx((95 / 102 - 1) * 100)
    # Windows running past the data are unknown, never truncated.
    assert np.isnan(high[2:]).all() and np.isnan(low[2:]).all()


def test_take_profit_first_is_a_long_win_and_a_short_loss() -> None:
    # ATR 1: long TP at 101.5, SL at 99; short TP at 98.5, SL at 101.
    bars = _bars([100, 100.5, 102, 100], [100, 99.5, 100, 100], [100] * 4)
    tp_long, tp_short = barrier_labels(bars, np.ones(4), 3, 1.5, 1.0)
    assert tp_long[0] == 1.0
    # Short: bar 2's high 102 reaches the short stop (101) before any low reaches 98.5.
    assert tp_short[0] == 0.0


def test_stop_first_is_a_long_loss() -> None:
    bars = _bars([100, 100, 103, 100], [100, 98.9, 100, 100], [100] * 4)
    tp_long, tp_short = barrier_labels(bars, np.ones(4), 3, 1.5, 1.0)
    assert tp_long[0] == 0.0  # the stop at 99 came in bar 1, the target only in bar 2
    assert tp_short[0] == 0.0  # 98.9 is above the short target 98.5; bar 2 hits its stop


def test_same_bar_take_profit_and_stop_counts_as_the_stop() -> None:
    bars = _bars([100, 102, 100], [100, 98, 100], [100] * 3)
    tp_long, tp_short = barrier_labels(bars, np.ones(3), 2, 1.5, 1.0)
    assert tp_long[0] == 0.0
    assert tp_short[0] == 0.0


def test_neither_barrier_within_the_lookahead_is_zero() -> None:
    bars = _bars([100, 100.5, 100.5, 110], [100, 99.5, 99.5, 90], [100] * 4)
    tp_long, tp_short = barrier_labels(bars, np.ones(4), 2, 1.5, 1.0)
    assert tp_long[0] == 0.0 and tp_short[0] == 0.0
    # Row 1 reaches bar 3, where both barriers are touched: the stop, for both sides.
    assert tp_long[1] == 0.0 and tp_short[1] == 0.0


def test_short_take_profit_is_mirrored() -> None:
    bars = _bars([100, 100.5, 100, 100], [100, 99.5, 98, 100], [100] * 4)
    tp_long, tp_short = barrier_labels(bars, np.ones(4), 3, 1.5, 1.0)
    assert tp_short[0] == 1.0
    assert tp_long[0] == 0.0


def test_unknown_atr_or_past_the_end_is_nan() -> None:
    bars = _bars([100] * 5, [100] * 5, [100] * 5)
    atr = np.array([np.nan, 1.0, 1.0, 1.0, 1.0])
    tp_long, tp_short = barrier_labels(bars, atr, 2, 1.5, 1.0)
    assert np.isnan(tp_long[0]) and np.isnan(tp_short[0])
    assert tp_long[1] == 0.0 and tp_short[2] == 0.0
    assert np.isnan(tp_long[3:]).all() and np.isnan(tp_short[3:]).all()


def test_barrier_scales_with_each_rows_atr() -> None:
    bars = _bars([100, 102, 100], [100, 100, 100], [100] * 3)
    tp_long, _ = barrier_labels(bars, np.array([1.0, 1.0, 1.0]), 1, 1.5, 1.0)
    wide, _ = barrier_labels(bars, np.array([2.0, 1.0, 1.0]), 1, 1.5, 1.0)
    assert tp_long[0] == 1.0  # 102 >= 101.5
    assert wide[0] == 0.0  # 102 < 103
