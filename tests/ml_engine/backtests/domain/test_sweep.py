"""Parameter sweeps: every combination of the grid, each set equal to its own run_backtest,
ranked by the metric asked for; bad grids refused naming `grid`, bad fixed params and short ranges
as RunBacktest refuses them, refused combinations skipped; sets that never trade rank last."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.backtests.domain import BacktestConfig, run_backtest
from ml_engine.backtests.domain.sweep import MAX_SETS, check_fixed_params, parameter_sets, run_sweep
from ml_engine.market_data.domain.bars import Bars
from service_runtime.errors import InvalidArgument


def walk(n: int = 3000, seed: int = 5) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    return Bars.from_columns(np.arange(n, dtype=np.int64) * 3600, open_, high, low, close, np.ones(n))


def test_every_combination_over_the_fixed_parameters() -> None:
    sets = parameter_sets("sma_cross", {"fast": [5, 10], "slow": [20, 30, 30]}, {"slow": 50})
    assert sets == [
        {"fast": 5, "slow": 20},
        {"fast": 5, "slow": 30},
        {"fast": 10, "slow": 20},
        {"fast": 10, "slow": 30},
    ]
    assert parameter_sets("sma_cross", {"fast": [7]}, {"slow": 40}) == [{"fast": 7, "slow": 40}]


@pytest.mark.parametrize(
    ("grid", "words"),
    [
        ({}, "at least one parameter"),
        ({"window": [3]}, "not a parameter of sma_cross"),
        ({"fast": []}, "fast has no values"),
        ({"fast": [0.5]}, "fast = 0.5"),
        ({"fast": list(range(2, 40)), "slow": list(range(50, 100))}, f"at most {MAX_SETS}"),
    ],
)
def test_bad_grids_name_the_field(grid: dict[str, list[float]], words: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parameter_sets("sma_cross", grid, {})
    violation = refused.value.violations[0]
    assert violation.field == "grid" and words in violation.description


def test_each_set_equals_its_own_backtest_and_the_ranking_holds() -> None:
    bars = walk()
    config = BacktestConfig(commission=0.0002)
    sets = parameter_sets("sma_cross", {"fast": [5, 10, 30], "slow": [20, 40]}, {})
    sweep = run_sweep(bars, "sma_cross", sets, config, "total_return")
    assert sweep.skipped == 1  # fast 30 >= slow 20
    assert sweep.evaluated == 5 == len(sweep.runs)
    returns = [run.metrics.total_return for run in sweep.runs]
    assert returns == sorted(returns, reverse=True)
    for run in sweep.runs:
        alone = run_backtest(bars, "sma_cross", run.params, config)
        assert alone.metrics == run.metrics
    by_drawdown = run_sweep(bars, "sma_cross", sets, config, "max_drawdown")
    drawdowns = [run.metrics.max_drawdown for run in by_drawdown.runs]
    assert drawdowns == sorted(drawdowns)


def test_what_is_wrong_whatever_the_set_is_refused_not_skipped() -> None:
    """RunBacktest refuses these; a sweep skipped every set and answered nothing. Only a combination
    refused as a whole (fast >= slow) is skipped."""
    bars = walk(300)
    config = BacktestConfig()
    with pytest.raises(InvalidArgument) as short:
        run_sweep(bars.slice(0, 15), "sma_cross", parameter_sets("sma_cross", {"fast": [5, 10]}, {}), config)
    violation = short.value.violations[0]
    assert violation.field == "start_date" and "range has 15 bars" in violation.description
    # The most demanding set decides (slow 250 needs 252 bars), though others would fit.
    with pytest.raises(InvalidArgument, match="slow=250 needs at least 252"):
        run_sweep(
            bars.slice(0, 200), "sma_cross", parameter_sets("sma_cross", {"slow": [30, 250]}, {}), config
        )
    for fixed, field in (({"bogus": 1.0}, "params.bogus"), ({"slow": 5000.0}, "params.slow")):
        with pytest.raises(InvalidArgument) as fixed_refused:
            check_fixed_params("sma_cross", fixed)
        assert [v.field for v in fixed_refused.value.violations] == [field]
        with pytest.raises(InvalidArgument) as run_refused:
            run_sweep(bars, "sma_cross", parameter_sets("sma_cross", {"fast": [5, 10]}, fixed), config)
        assert [v.field for v in run_refused.value.violations] == [field]
    # A fixed value that only a grid's set contradicts is the set's business: skipped, not refused.
    check_fixed_params("sma_cross", {"slow": 8.0})
    sweep = run_sweep(
        bars, "sma_cross", parameter_sets("sma_cross", {"fast": [5, 10]}, {"slow": 8.0}), config
    )
    assert (sweep.evaluated, sweep.skipped) == (1, 1)
    # Every set refused as a whole: nothing to run, no bars needed.
    none = run_sweep(bars.slice(0, 5), "sma_cross", [{"fast": 30, "slow": 20}], config)
    assert (none.evaluated, none.skipped, none.runs) == (0, 1, ())


def bars_from_close(close: np.ndarray) -> Bars:
    n = len(close)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    return Bars.from_columns(np.arange(n, dtype=np.int64) * 86400, open_, high, low, close, np.ones(n))


@pytest.mark.parametrize("rank_by", ["max_drawdown", "sharpe", "total_return", "sortino", "profit_factor"])
def test_a_set_that_never_trades_ranks_last(rank_by: str) -> None:
    """Its ratios are reported as 0 and its drawdown is 0: by drawdown it ranked first."""
    rng = np.random.default_rng(1)
    bars = bars_from_close(100 * np.exp(np.cumsum(rng.normal(-0.002, 0.01, 600))))
    sets = [{"fast": 2, "slow": 598}, {"fast": 5, "slow": 20}, {"fast": 10, "slow": 50}]
    sweep = run_sweep(bars, "sma_cross", sets, BacktestConfig(), rank_by)
    assert [run.metrics.trades > 0 for run in sweep.runs] == [True, True, False]
    assert sweep.runs[-1].params == {"fast": 2.0, "slow": 598.0}


def test_a_set_whose_every_trade_wins_ranks_first_by_profit_factor() -> None:
    """Gross loss 0: the profit factor is reported as 0 (undefined), as for a set whose every trade
    lost; it ranks as the best profit factor there is."""
    # A dip then a noisy rise: the slow cross enters once and holds to the end; faster ones churn.
    trend = np.r_[np.linspace(100, 80, 60), np.linspace(80, 160, 200)]
    bars = bars_from_close(trend * np.exp(np.random.default_rng(3).normal(0, 0.02, len(trend))))
    config = BacktestConfig(allow_short=False)
    winner = run_backtest(bars, "sma_cross", {"fast": 5, "slow": 20}, config)
    assert winner.metrics.trades >= 1 and all(t.pnl > 0 for t in winner.trades)
    assert winner.metrics.profit_factor == 0.0
    sets = [{"fast": 2, "slow": 3}, {"fast": 3, "slow": 10}, {"fast": 5, "slow": 20}, {"fast": 2, "slow": 5}]
    sweep = run_sweep(bars, "sma_cross", sets, config, "profit_factor")
    assert [(run.params["fast"], run.params["slow"]) for run in sweep.runs] == [
        (5, 20),
        (3, 10),
        (2, 3),
        (2, 5),
    ]
    factors = [run.metrics.profit_factor for run in sweep.runs[1:]]
    assert factors == sorted(factors, reverse=True) and 0 < factors[-1] < 1
