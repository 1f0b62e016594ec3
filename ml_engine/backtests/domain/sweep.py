"""Parameter sweeps: one strategy over every combination of a grid of parameter values, on the
same bars, ranked by a metric.

Each set is an ordinary `run_backtest` (same fills, same metrics), with the equity curve cut to
its ends: a sweep answers metrics, not curves. Values are checked against the strategy's ranges up
front (INVALID_ARGUMENT naming `grid`); a combination the strategy refuses as a whole (sma_cross
with fast >= slow) is skipped and counted, not an error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ml_engine.backtests.domain.config import BacktestConfig
from ml_engine.backtests.domain.engine import run_backtest
from ml_engine.backtests.domain.results import BacktestMetrics
from ml_engine.backtests.domain.strategies import get_strategy
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
        value = metric(run.metrics)
        if math.isnan(value):
            return (True, 0.0)  # undefined (no trades, flat equity) ranks last
        return (False, -value if higher_is_better else value)

    return key


def run_sweep(
    bars: Bars,
    strategy: str,
    sets: Sequence[Mapping[str, float]],
    config: BacktestConfig,
    rank_by: str = "sharpe",
) -> SweepResult:
    """Runs each parameter set on `bars` and ranks the results by `rank_by` (a key of RANKS)."""
    light = replace(config, max_equity_points=2, walk_forward_splits=0)
    runs: list[SweepRun] = []
    skipped = 0
    for params in sets:
        try:
            result = run_backtest(bars, strategy, params, light)
        except InvalidArgument:
            skipped += 1
            continue
        runs.append(SweepRun({k: float(v) for k, v in result.params.items()}, result.metrics))
    runs.sort(key=_rank_key(rank_by))
    return SweepResult(tuple(runs), len(runs), skipped)
