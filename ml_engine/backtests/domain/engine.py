"""Running a strategy over bars: signals (vectorized), fills (numba kernel), metrics, curve, folds."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from ml_engine.backtests.domain.config import BacktestConfig
from ml_engine.backtests.domain.equity_curve import downsample
from ml_engine.backtests.domain.kernel import SimulationOutput, simulate
from ml_engine.backtests.domain.metrics import compute_metrics, max_drawdown_span
from ml_engine.backtests.domain.results import BacktestResult, ExitReason, Side, Trade
from ml_engine.backtests.domain.strategies import StrategyDefinition, StrategyParams, get_strategy
from ml_engine.backtests.domain.strategies.base import PositionArray, StrategyCost
from ml_engine.backtests.domain.walk_forward import fold_bounds, folds
from ml_engine.market_data.domain.bars import Bars
from service_runtime.errors import InvalidArgument

_EXIT_REASONS = (ExitReason.SIGNAL, ExitReason.STOP_LOSS, ExitReason.TAKE_PROFIT, ExitReason.END)


def minimum_bars(strategy: str, params: Mapping[str, float]) -> int:
    """Bars a range needs for `strategy` to be able to make one trade (params are checked first)."""
    definition = get_strategy(strategy)
    return definition.minimum_bars(definition.resolve_params(params))


def check_enough_bars(n_bars: int, definition: StrategyDefinition, params: StrategyParams) -> None:
    needed = definition.minimum_bars(params)
    if n_bars < needed:
        raise InvalidArgument.field(
            "start_date", f"range has {n_bars} bars, strategy {definition.name} needs at least {needed}"
        )


def run_backtest(
    bars: Bars, strategy: str, params: Mapping[str, float], config: BacktestConfig | None = None
) -> BacktestResult:
    """Backtests `strategy` on `bars`; InvalidArgument names `strategy`, `params.<name>`, `start_date`
    (too few bars) or `walk_forward_splits` (folds too short). `config` is checked on construction.

    Bars are used as given (positive, finite prices, as the market store keeps them); a last bar that
    is not complete yet counts like the others, so a caller that wants only settled bars drops it.
    """
    config = config or BacktestConfig()
    definition = get_strategy(strategy)
    resolved = definition.resolve_params(params)
    check_enough_bars(len(bars), definition, resolved)
    if config.walk_forward_splits:
        shortest = min(stop - start for start, stop in fold_bounds(len(bars), config.walk_forward_splits))
        needed = definition.minimum_bars(resolved)
        if shortest < needed:
            raise InvalidArgument.field(
                "walk_forward_splits",
                f"{config.walk_forward_splits} folds of {len(bars)} bars have {shortest} bars each, "
                f"strategy {definition.name} needs at least {needed}",
            )

    run = simulate_strategy(bars, definition, resolved, config)
    span = max_drawdown_span(run.equity)
    fold_metrics = tuple(
        compute_metrics(
            fold,
            simulate_strategy(fold, definition, resolved, config),
            config.initial_cash,
            config.periods_per_year,
        )
        for fold in (folds(bars, config.walk_forward_splits) if config.walk_forward_splits else [])
    )
    return BacktestResult(
        strategy=definition.name,
        params=resolved,
        config=config,
        metrics=compute_metrics(bars, run, config.initial_cash, config.periods_per_year, span),
        trades=trades_from_run(bars, run),
        equity_curve=downsample(bars.times, run.equity, config.max_equity_points, span),
        folds=fold_metrics,
    )


def simulate_strategy(
    bars: Bars, definition: StrategyDefinition, params: StrategyParams, config: BacktestConfig
) -> SimulationOutput:
    """The strategy's desired positions run through the fill kernel; every bar's equity, every trade."""
    if definition.reads_costs:
        params = {**params, "commission": config.commission, "slippage": config.slippage}
    desired = definition.positions(bars, params)
    if not config.allow_short:
        desired = np.maximum(desired, 0).astype(np.int8)
    return simulate_positions(bars, desired, config)


def simulate_positions(bars: Bars, desired: PositionArray, config: BacktestConfig) -> SimulationOutput:
    """A desired position per bar (+1/-1/0) run through the fill kernel with `config`'s costs and stops."""
    return simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        desired,
        initial_cash=config.initial_cash,
        commission=config.commission,
        slippage=config.slippage,
        size_fraction=config.order_size_fraction,
        stop_loss=config.stop_loss,
        take_profit=config.take_profit,
    )


_SIDES = np.array([Side.SHORT, Side.LONG], dtype=object)
_REASONS = np.array(_EXIT_REASONS, dtype=object)


def trades_from_run(bars: Bars, run: SimulationOutput) -> tuple[Trade, ...]:
    # Whole columns to Python lists, then one tuple per trade: per-element numpy access or keyword
    # construction would dominate with tens of thousands of trades.
    columns = zip(
        _SIDES[(run.units > 0).astype(np.intp)].tolist(),
        np.abs(run.units).astype(np.int64).tolist(),
        run.entry_bar.tolist(),
        bars.times[run.entry_bar].tolist(),
        run.entry_price.tolist(),
        run.exit_bar.tolist(),
        bars.times[run.exit_bar].tolist(),
        run.exit_price.tolist(),
        run.pnl.tolist(),
        run.return_pct.tolist(),
        run.commission.tolist(),
        _REASONS[run.exit_reason].tolist(),
        strict=True,
    )
    with _gc_paused():
        return tuple(map(Trade._make, columns))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector while building many tuples: each batch of new tuples would
    otherwise trigger a collection that finds nothing to free (halves the time for 50k trades)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


BUILTIN_STRATEGIES = ("sma_cross", "rsi_reversion", "bollinger_breakout")


def warm_up() -> float:
    """Compiles (or loads from numba's on-disk cache) every numba function the built-in strategies and
    the fill kernel use, on a tiny series, so the first request does not pay for it. Returns seconds."""
    started = time.perf_counter()
    n = 256
    close = 100.0 + np.sin(np.arange(n) / 3.0) * 5.0 + np.arange(n) * 0.01
    bars = Bars.from_columns(
        np.arange(n, dtype=np.int64) * 3600, close, close + 1.0, close - 1.0, close, np.ones(n)
    )
    config = BacktestConfig(commission=0.001, slippage=0.001, stop_loss=0.05, take_profit=0.05)
    for name in BUILTIN_STRATEGIES:
        run_backtest(bars, name, {}, config)
    return time.perf_counter() - started


# bench/backtest.py measured 0.07 us per bar (1M bars, sma_cross, 55k trades) on a small 2-core
# Xeon VM; this is a loose upper estimate of that.
_SECONDS_PER_BAR = 1e-7
_FIXED_SECONDS = 0.005


def estimate_seconds(n_bars: int, walk_forward_splits: int = 0, strategy: str = "", runs: int = 1) -> float:
    """A rough upper estimate of the time of `runs` backtests of `strategy` over the same `n_bars`
    (a sweep), for the API to refuse huge ranges and grids: the fill kernel's time plus what the
    strategy declares (StrategyCost; none without a strategy)."""
    cost = get_strategy(strategy).cost if strategy else StrategyCost()
    passes = 2 if walk_forward_splits else 1  # the folds together cover the bars once more
    per_run = _FIXED_SECONDS + passes * n_bars * (_SECONDS_PER_BAR + cost.per_run)
    return runs * per_run + passes * n_bars * cost.per_range
