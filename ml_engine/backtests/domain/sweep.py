"""Parameter sweeps: one strategy over every combination of a grid of parameter values, on the
same bars, ranked by a metric.

Each set is an ordinary `run_backtest` (same fills, same metrics), with the equity curve cut to
its ends: a sweep answers metrics, not curves. Values are checked against the strategy's ranges up
front (INVALID_ARGUMENT naming `grid`, or `params.<name>` for the fixed ones), and so is the range
(`start_date`: fewer bars than the most demanding set needs), as RunBacktest refuses them; only a
combination the strategy refuses as a whole (sma_cross with fast >= slow) is skipped and counted.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ml_engine.backtests.domain.config import BacktestConfig
from ml_engine.backtests.domain.engine import run_backtest
from ml_engine.backtests.domain.results import BacktestMetrics
from ml_engine.backtests.domain.strategies import StrategyDefinition, StrategyParams, get_strategy
from ml_engine.market_data.domain.bars import Bars
from service_runtime.errors import InvalidArgument

MAX_SETS = 1000

# Metric and whether higher is better.
RANKS: dict[str, tuple[Callable[[BacktestMetrics], float], bool]] = {
    "sharpe": (lambda m: m.sharpe, True),
    "total_return": (lambda m: m.total_return, True),
    "sortino": (lambda m: m.sortino, True),
    "profit_factor": (lambda m: m.profit_factor, True),
    "max_drawdown": (lambda m: m.max_drawdown, False),
}


@dataclass(frozen=True)
class SweepRun:
    params: dict[str, float]
    metrics: BacktestMetrics


@dataclass(frozen=True)
class SweepResult:
    runs: tuple[SweepRun, ...]  # ranked, best first
    evaluated: int
    skipped: int


def check_fixed_params(strategy: str, fixed: Mapping[str, float]) -> None:
    """The parameters the sweep does not vary: known to the strategy and in range, else
    InvalidArgument naming `params.<name>` (checks across parameters are the grid's sets')."""
    get_strategy(strategy).resolve_each(fixed)


def parameter_sets(
    strategy: str, grid: Mapping[str, Sequence[float]], fixed: Mapping[str, float]
) -> list[dict[str, float]]:
    """Every combination of the grid's values, over `fixed` for the other parameters."""
    definition = get_strategy(strategy)
    specs = {p.name: p for p in definition.spec.params}
    if not grid:
        raise InvalidArgument.field("grid", "list at least one parameter and its values")
    total = 1
    for name, values in grid.items():
        spec = specs.get(name)
        if spec is None:
            raise InvalidArgument.field(
                "grid", f"{name} is not a parameter of {strategy}; it takes {', '.join(specs)}"
            )
        if not values:
            raise InvalidArgument.field("grid", f"{name} has no values")
        for value in values:
            if spec.check(value) is None:
                raise InvalidArgument.field("grid", f"{name} = {value:g}: {spec.requirement()}")
        total *= len(values)
    if total > MAX_SETS:
        raise InvalidArgument.field("grid", f"{total} parameter sets; at most {MAX_SETS}")
    names = list(grid)
    return [
        {**fixed, **dict(zip(names, combination, strict=True))}
        for combination in itertools.product(*(list(dict.fromkeys(grid[n])) for n in names))
    ]


def _rank_key(rank_by: str) -> Callable[[SweepRun], tuple[bool, float]]:
    metric, higher_is_better = RANKS[rank_by]

    def key(run: SweepRun) -> tuple[bool, float]:
        metrics = run.metrics
        # Undefined ratios are reported as 0 (service_runtime/performance.py), so a set that never
        # traded would rank among the rest (first by drawdown): it ranks last, whatever the metric.
        if metrics.trades == 0:
            return (True, 0.0)
        value = metric(metrics)
        if rank_by == "profit_factor" and value == 0 and metrics.expectancy > 0:
            # No losing trade (gross loss 0, reported as 0) but a profit: the best profit factor.
            value = math.inf
        if math.isnan(value):
            return (True, 0.0)
        return (False, -value if higher_is_better else value)

    return key


def run_sweep(
    bars: Bars,
    strategy: str,
    sets: Sequence[Mapping[str, float]],
    config: BacktestConfig,
    rank_by: str = "sharpe",
) -> SweepResult:
    """Runs each parameter set on `bars` and ranks the results by `rank_by` (a key of RANKS).
    InvalidArgument, as run_backtest raises it, for what is wrong whatever the set: a value out of
    range (`params.<name>`), too few bars for a set (`start_date`), the range's timeframe."""
    definition = get_strategy(strategy)
    runnable = _runnable_sets(definition, sets)
    _check_enough_bars(len(bars), definition, runnable)
    light = replace(config, max_equity_points=2, walk_forward_splits=0)
    runs: list[SweepRun] = []
    for params in runnable:
        result = run_backtest(bars, strategy, params, light)
        runs.append(SweepRun({k: float(v) for k, v in result.params.items()}, result.metrics))
    runs.sort(key=_rank_key(rank_by))
    return SweepResult(tuple(runs), len(runs), len(sets) - len(runnable))


def _runnable_sets(
    definition: StrategyDefinition, sets: Sequence[Mapping[str, float]]
) -> list[StrategyParams]:
    """Each set resolved; one the strategy refuses as a whole (fast >= slow) is left out (skipped),
    a value it refuses on its own raises."""
    resolved = [definition.resolve_each(params) for params in sets]
    return [params for params in resolved if not definition.cross_checks(params)]


def _check_enough_bars(n_bars: int, definition: StrategyDefinition, sets: Sequence[StrategyParams]) -> None:
    """Every set runs on the same range: it must hold the bars the most demanding set needs."""
    if not sets:
        return
    most = max(sets, key=definition.minimum_bars)
    needed = definition.minimum_bars(most)
    if n_bars < needed:
        values = ", ".join(f"{name}={value:g}" for name, value in most.items())
        raise InvalidArgument.field(
            "start_date",
            f"range has {n_bars} bars, strategy {definition.name} with {values} needs at least {needed}",
        )
