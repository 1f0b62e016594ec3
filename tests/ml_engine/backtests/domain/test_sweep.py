"""Parameter sweeps: every combination of the grid, each set equal to its own run_backtest,
ranked by the metric asked for; bad grids refused naming `grid`, refused combinations skipped."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.backtests.domain import BacktestConfig, run_backtest
from ml_engine.backtests.domain.sweep import MAX_SETS, parameter_sets, run_sweep
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
