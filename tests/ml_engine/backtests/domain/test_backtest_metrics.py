"""Metrics on hand-built series, equity-curve downsampling, walk-forward folds, helpers."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from backtesting.test import EURUSD

from ml_engine.backtests.domain import (
    BacktestConfig,
    estimate_seconds,
    periods_per_year_for,
    run_backtest,
    warm_up,
)
from ml_engine.backtests.domain.equity_curve import downsample, downsample_indices
from ml_engine.backtests.domain.kernel import simulate
from ml_engine.backtests.domain.metrics import compute_metrics, max_drawdown_span
from ml_engine.backtests.domain.walk_forward import fold_bounds
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from tests.ml_engine.frames import bars_from_frame

DAY = 86400


def daily_bars(opens: list[float], closes: list[float]) -> Bars:
    o, c = np.array(opens, dtype=float), np.array(closes, dtype=float)
    times = 1_700_000_000 + np.arange(len(o), dtype=np.int64) * DAY
    return Bars.from_columns(times, o, np.maximum(o, c), np.minimum(o, c), c, np.ones(len(o)))


def test_metrics_of_a_hand_built_series() -> None:
    bars = daily_bars(
        opens=[100, 100, 100, 110, 120, 100, 90, 104],
        closes=[100, 100, 105, 115, 110, 95, 92, 100],
    )
    # Long 5 units from bar 2's open (100) to bar 4's open (120): +100.
    # Short 5 units (1100 * 0.5 // 100) from bar 5's open (100) to bar 7's open (104): -20.
    desired = np.array([0, 1, 1, 0, -1, -1, 0, 0], dtype=np.int8)
    run = simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        desired,
        initial_cash=1000,
        commission=0,
        slippage=0,
        size_fraction=0.5,
        stop_loss=None,
        take_profit=None,
    )
    np.testing.assert_array_equal(run.equity, [1000, 1000, 1025, 1075, 1100, 1125, 1140, 1080])
    assert list(run.pnl) == [100.0, -20.0]
    assert list(run.units) == [5.0, -5.0]

    m = compute_metrics(bars, run, initial_cash=1000, periods_per_year=252)
    assert (m.start, m.end, m.bars, m.trades) == (bars.times[0], bars.times[-1], 8, 2)
    assert m.final_equity == 1080
    assert m.total_return == pytest.approx(0.08)
    assert m.cagr == pytest.approx(1.08 ** (365.25 / 7) - 1)
    returns = [b / a - 1 for a, b in zip(run.equity[:-1], run.equity[1:], strict=True)]
    assert m.annual_volatility == pytest.approx(statistics.stdev(returns) * math.sqrt(252))
    assert m.sharpe == pytest.approx(statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252))
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / len(returns))
    assert m.sortino == pytest.approx(statistics.mean(returns) / downside * math.sqrt(252))
    assert m.max_drawdown == pytest.approx(60 / 1140)  # peak 1140 at bar 6, 1080 at bar 7
    assert (m.max_drawdown_bars, m.max_drawdown_seconds) == (1, DAY)  # never recovered: to the last bar
    assert m.win_rate == 0.5
    assert m.profit_factor == pytest.approx(5.0)
    assert m.expectancy == pytest.approx(40.0)
    assert m.exposure == 6 / 8  # bars 2-4 and 5-7, entry and exit bars included
    assert m.buy_and_hold_return == 0.0  # last close 100 / first open 100


def test_commission_and_slippage_by_hand() -> None:
    bars = daily_bars(opens=[100, 100, 100, 120, 120], closes=[100, 100, 110, 120, 120])
    desired = np.array([0, 1, 1, 0, 0], dtype=np.int8)
    config = BacktestConfig(initial_cash=1000, commission=0.01, slippage=0.01, position_size=0.5)
    run = simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        desired,
        initial_cash=1000,
        commission=0.01,
        slippage=0.01,
        size_fraction=config.order_size_fraction,
        stop_loss=None,
        take_profit=None,
    )
    # Fill 100 * 1.01 = 101; per unit with commission 101 + 1 = 102; 500 // 102 = 4 units.
    assert list(run.units) == [4.0] and list(run.entry_price) == [101.0]
    # Exit at 120 (no slippage on exits): 4 * 19 - 4 * 101 * 0.01 - 4 * 120 * 0.01.
    assert run.pnl[0] == pytest.approx(76 - 4.04 - 4.8)
    assert run.return_pct[0] == pytest.approx((76 - 4.04 - 4.8) / (4 * 101))
    assert run.commission[0] == pytest.approx(8.84)
    assert run.equity[-1] == pytest.approx(1000 + 76 - 8.84)
    assert run.equity[2] == pytest.approx(1000 - 4.04 + 4 * (110 - 101))


def test_max_drawdown_span_with_recovery() -> None:
    equity = np.array([100, 120, 90, 60, 80, 125, 130, 110], dtype=float)
    assert max_drawdown_span(equity) == (0.5, 1, 3, 5)  # 120 -> 60, back above 120 at bar 5
    assert max_drawdown_span(np.array([100, 120, 90, 120, 60, 70.0])) == (
        0.5,
        3,
        4,
        5,
    )  # latest peak; never back
    assert max_drawdown_span(np.full(5, 100.0)) == (0.0, 0, 0, 0)


def test_no_trades_gives_finite_zero_ratios() -> None:
    bars = daily_bars(opens=[100, 101, 102], closes=[101, 102, 103])
    run = simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        np.zeros(3, dtype=np.int8),
        initial_cash=1000,
        commission=0,
        slippage=0,
        size_fraction=1.0,
        stop_loss=None,
        take_profit=None,
    )
    m = compute_metrics(bars, run, 1000, 252)
    assert (m.trades, m.win_rate, m.profit_factor, m.expectancy, m.exposure) == (0, 0.0, 0.0, 0.0, 0.0)
    assert (m.sharpe, m.sortino, m.annual_volatility, m.max_drawdown, m.total_return) == (
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
    )


def random_equity(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))


@pytest.mark.parametrize("max_points", [2, 3, 4, 5, 10, 101, 1000])
def test_downsampling_size_and_kept_points(max_points: int) -> None:
    equity = random_equity(20_000, seed=max_points)
    indices = downsample_indices(equity, max_points)
    assert len(indices) <= max_points
    assert np.all(np.diff(indices) > 0)
    assert indices[0] == 0 and indices[-1] == len(equity) - 1
    _, peak, trough, _ = max_drawdown_span(equity)
    if max_points >= 3:
        assert trough in indices
    if max_points >= 4:
        assert peak in indices
    if max_points >= 10:
        assert int(np.argmin(equity)) in indices and int(np.argmax(equity)) in indices
        assert len(indices) >= max_points - 6  # the budget is used


def test_downsampling_keeps_short_curves_whole_and_reports_times() -> None:
    equity = random_equity(50, seed=1)
    times = np.arange(50, dtype=np.int64) * 60
    curve = downsample(times, equity, 1000)
    np.testing.assert_array_equal(curve.bar_indices, np.arange(50))
    np.testing.assert_array_equal(curve.equity, equity)
    small = downsample(times, equity, 10)
    np.testing.assert_array_equal(small.times, times[small.bar_indices])
    np.testing.assert_array_equal(small.equity, equity[small.bar_indices])


def test_result_curve_keeps_the_drawdown_of_the_full_run() -> None:
    bars = bars_from_frame(EURUSD)
    full = run_backtest(bars, "sma_cross", {}, BacktestConfig(max_equity_points=100_000))
    small = run_backtest(bars, "sma_cross", {}, BacktestConfig(max_equity_points=200))
    assert len(small.equity_curve) <= 200
    assert small.equity_curve.equity[-1] == full.metrics.final_equity == small.metrics.final_equity
    kept = small.equity_curve.equity
    assert np.max(1 - kept / np.maximum.accumulate(kept)) == pytest.approx(
        full.metrics.max_drawdown, rel=1e-12
    )


def test_walk_forward_folds() -> None:
    assert fold_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]
    bars = bars_from_frame(EURUSD)
    config = BacktestConfig(walk_forward_splits=4, commission=0.0002)
    result = run_backtest(bars, "rsi_reversion", {"period": 10}, config)
    assert len(result.folds) == 4
    assert sum(f.bars for f in result.folds) == len(bars)
    assert result.folds[0].start == bars.times[0] and result.folds[-1].end == bars.times[-1]
    for fold, (start, stop) in zip(result.folds, fold_bounds(len(bars), 4), strict=True):
        alone = run_backtest(
            bars.slice(start, stop), "rsi_reversion", {"period": 10}, BacktestConfig(commission=0.0002)
        )
        assert fold == alone.metrics  # each fold is its own backtest
    assert run_backtest(bars, "rsi_reversion", {}).folds == ()


def test_periods_per_year_for_timeframes() -> None:
    assert periods_per_year_for(TIMEFRAMES["1d"]) == 252
    assert periods_per_year_for(TIMEFRAMES["1h"]) == 365 * 24
    assert periods_per_year_for(TIMEFRAMES["1m"]) == 365 * 24 * 60


def test_warm_up_and_estimate() -> None:
    assert warm_up() < 60
    assert warm_up() < 1  # compiled now
    assert 0 < estimate_seconds(1_000) < estimate_seconds(1_000_000) < estimate_seconds(1_000_000, 5)
