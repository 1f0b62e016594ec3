"""Backtesting domain: strategies, a numba fill kernel that follows backtesting.py, metrics.

Pure Python/numpy/numba: no gRPC, no I/O. Entry points: `run_backtest`, `list_strategies`,
`minimum_bars`, `warm_up` (call once at service start), `estimate_seconds`; strategies register
through `register_strategy` (the future `ml_signal` strategy plugs in there).

Conventions, the same as backtesting.py 0.6 (checked trade by trade in the tests) unless noted:
- A strategy gives a desired position per bar (+1/-1/0) from bars up to and including that bar. A
  change at bar i trades at bar i+1's open: close the open trade, then open the new side. Only a
  change trades: after a stop-loss or take-profit exit the engine stays flat until the desired
  position changes again. `allow_short=False` turns every -1 into 0. The first bar on which all
  indicators have a value is history only (backtesting.py starts `next()` on the bar after it).
- Sizing: whole units, int(equity * fraction // (fill + open * commission)); `position_size=1` is
  backtesting.py's all-in default (1 - machine epsilon). An entry that cannot buy one unit is skipped.
- Commission: a fraction of traded value at entry and again at exit. Slippage: like
  backtesting.py's `spread`, a long entry fills at open * (1 + slippage), a short entry at
  open * (1 - slippage); exits are not adjusted.
- Stop-loss / take-profit: fractions from the entry fill, checked on every bar's low/high from the
  entry bar itself on; the stop first when both are inside one bar; a bar that opens beyond a level
  fills at its open. Equity at or below 0 closes the trade at that close and ends the run at 0.
Differences from backtesting.py, each tested as such:
- A trade still open after the last bar is closed at the last bar's close (exit reason END);
  backtesting.py's `finalize_trades=True` fills it at the last bar's open.
- A change of the desired position on the last bar is not traded (no bar left to fill on);
  backtesting.py with `finalize_trades=True` would fill a new entry at the last bar's open.
- Stops and targets are fractions of the actual fill; backtesting.py takes absolute prices when the
  order is placed (and rejects ones on the wrong side of the current close).
- Metrics have their own definitions (metrics.py): per-bar returns annualized with
  `periods_per_year`, profit factor and expectancy in cash, buy and hold from the first open, the
  duration of the deepest drawdown. Win rate and exposure match backtesting.py's.
"""

from ml_engine.backtests.domain.config import BacktestConfig, periods_per_year_for
from ml_engine.backtests.domain.engine import estimate_seconds, minimum_bars, run_backtest, warm_up
from ml_engine.backtests.domain.results import (
    BacktestMetrics,
    BacktestResult,
    EquityCurve,
    ExitReason,
    Side,
    Trade,
)
from ml_engine.backtests.domain.strategies import (
    StrategyDefinition,
    StrategySpec,
    get_strategy,
    list_strategies,
    register_strategy,
)

__all__ = [
    "BacktestConfig",
    "BacktestMetrics",
    "BacktestResult",
    "EquityCurve",
    "ExitReason",
    "Side",
    "StrategyDefinition",
    "StrategySpec",
    "Trade",
    "estimate_seconds",
    "get_strategy",
    "list_strategies",
    "minimum_bars",
    "periods_per_year_for",
    "register_strategy",
    "run_backtest",
    "warm_up",
]
