"""Running a strategy over bars: signals (vectorized), fills (numba kernel), metrics, curve, folds."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from ml_engine.domain.backtest.config import BacktestConfig
from ml_engine.domain.backtest.equity_curve import downsample
from ml_engine.domain.backtest.kernel import SimulationOutput, simulate
from ml_engine.domain.backtest.metrics import compute_metrics
from ml_engine.domain.backtest.results import BacktestResult, ExitReason, Side, Trade
from ml_engine.domain.backtest.strategies import StrategyDefinition, StrategyParams, get_strategy
from ml_engine.domain.backtest.walk_forward import fold_bounds, folds
from ml_engine.domain.market.bars import Bars
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
    fold_metrics = tuple(
        compute_metrics(
            fold, simulate_strategy(fold, definition, resolved, config), config.initial_cash, config.periods_per_year
        )
        for fold in (folds(bars, config.walk_forward_splits) if config.walk_forward_splits else [])
    )
    return BacktestResult(
        strategy=definition.name,
        params=resolved,
        config=config,
        metrics=compute_metrics(bars, run, config.initial_cash, config.periods_per_year),
        trades=trades_from_run(bars, run),
        equity_curve=downsample(bars.times, run.equity, config.max_equity_points),
        folds=fold_metrics,
    )


def simulate_strategy(
    bars: Bars, definition: StrategyDefinition, params: StrategyParams, config: BacktestConfig
) -> SimulationOutput:
    """The strategy's desired positions run through the fill kernel; every bar's equity, every trade."""
    desired = definition.positions(bars, params)
    if not config.allow_short:
        desired = np.maximum(desired, 0).astype(np.int8)
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


def trades_from_run(bars: Bars, run: SimulationOutput) -> tuple[Trade, ...]:
    times = bars.times
    return tuple(
        Trade(
            side=Side.LONG if units > 0 else Side.SHORT,
            size=int(abs(units)),
            entry_bar=entry_bar,
            entry_time=int(times[entry_bar]),
            entry_price=entry_price,
            exit_bar=exit_bar,
            exit_time=int(times[exit_bar]),
            exit_price=exit_price,
            pnl=pnl,
            return_pct=return_pct,
            commission=commission,
            exit_reason=_EXIT_REASONS[reason],
        )
        for entry_bar, exit_bar, units, entry_price, exit_price, pnl, return_pct, commission, reason in zip(
            run.entry_bar.tolist(),
            run.exit_bar.tolist(),
            run.units.tolist(),
            run.entry_price.tolist(),
            run.exit_price.tolist(),
            run.pnl.tolist(),
            run.return_pct.tolist(),
            run.commission.tolist(),
            run.exit_reason.tolist(),
            strict=True,
        )
    )


def warm_up() -> float:
    """Compiles (or loads from numba's on-disk cache) the fill kernel on a tiny series, so the first
    request does not pay for it. Returns the seconds it took."""
    started = time.perf_counter()
    n = 64
    close = 100.0 + np.sin(np.arange(n) / 3.0) * 5.0
    bars = Bars.from_columns(np.arange(n, dtype=np.int64) * 3600, close, close + 1.0, close - 1.0, close, np.ones(n))
    config = BacktestConfig(commission=0.001, slippage=0.001, stop_loss=0.05, take_profit=0.05)
    run_backtest(bars, "sma_cross", {"fast": 2, "slow": 3}, config)
    return time.perf_counter() - started


# Measured by bench/backtest.py (1M bars, sma_cross) on a 16-core x86 host; a loose upper estimate.
_SECONDS_PER_BAR = 1e-7
_FIXED_SECONDS = 0.005


def estimate_seconds(n_bars: int, walk_forward_splits: int = 0) -> float:
    """A rough upper estimate of run_backtest's time, for the API to refuse or warn on huge ranges."""
    passes = 2 if walk_forward_splits else 1  # the folds together cover the bars once more
    return _FIXED_SECONDS + passes * n_bars * _SECONDS_PER_BAR
