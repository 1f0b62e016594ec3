"""Run metrics from the per-bar equity curve and the closed trades.

Definitions (r = simple return of equity from one bar close to the next, risk-free rate 0):
- total_return = final / initial - 1; cagr = (final / initial) ** (1 / years) - 1 with years the
  calendar time from the first to the last bar open (365.25-day years); 0 for a single instant.
- annual_volatility = std(r, ddof=1) * sqrt(periods_per_year);
  sharpe = mean(r) / std(r, ddof=1) * sqrt(periods_per_year);
  sortino = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(periods_per_year).
- max_drawdown = max(1 - equity / running peak). Its duration runs from the peak before the deepest
  point to the first bar back at that peak, or to the last bar when equity never got back.
- win_rate = share of trades with pnl > 0; profit_factor = gross profit / gross loss (cash);
  expectancy = mean pnl per trade (cash).
- exposure = share of bars on which a position was held at any moment: entry bar through exit bar
  inclusive, as backtesting.py counts it.
- buy_and_hold_return = last close / first open - 1.
A ratio whose denominator is 0 (no trades, no losing trade, flat equity) is reported as 0, so that
every figure is a finite number for the API.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ml_engine.backtests.domain.kernel import SimulationOutput
from ml_engine.backtests.domain.results import BacktestMetrics
from ml_engine.market_data.domain.bars import Bars, FloatArray, IntArray
from service_runtime.performance import bar_returns, drawdown, return_stats
from service_runtime.performance import ratio as _ratio

__all__ = ["bar_returns", "compute_metrics", "drawdown", "exposure", "max_drawdown_span"]

SECONDS_PER_CALENDAR_YEAR = 365.25 * 86400


class DrawdownSpan(NamedTuple):
    """The deepest drawdown: bar indices of its peak, its trough and the recovery (the last bar if none)."""

    depth: float
    peak: int
    trough: int
    recovery: int


def max_drawdown_span(equity: FloatArray) -> DrawdownSpan:
    dd = drawdown(equity)
    trough = int(np.argmax(dd))
    depth = float(dd[trough])
    if depth <= 0:
        return DrawdownSpan(0.0, trough, trough, trough)
    peak_value = equity[: trough + 1].max()
    # The latest bar at the peak: the drawdown starts when equity leaves it for the last time.
    peak = int(trough - np.argmax(equity[trough::-1] >= peak_value))
    back = np.argmax(equity[trough:] >= peak_value)
    recovery = trough + int(back) if equity[trough + back] >= peak_value else len(equity) - 1
    return DrawdownSpan(depth, peak, trough, recovery)


def exposure(n_bars: int, entry_bars: IntArray, exit_bars: IntArray) -> float:
    """Share of bars from an entry bar to its exit bar, inclusive; trades are sequential, and a trade
    entered on the bar where the previous one exited shares that bar with it."""
    if len(entry_bars) == 0:
        return 0.0
    held = int(np.sum(exit_bars - entry_bars + 1))
    shared = int(np.count_nonzero(entry_bars[1:] == exit_bars[:-1]))
    return (held - shared) / n_bars


def compute_metrics(
    bars: Bars,
    run: SimulationOutput,
    initial_cash: float,
    periods_per_year: float,
    span: DrawdownSpan | None = None,
) -> BacktestMetrics:
    """Metrics of one run; `span` is max_drawdown_span(run.equity) when the caller already has it."""
    equity = run.equity
    final = float(equity[-1])
    stats = return_stats(equity, periods_per_year)

    years = (int(bars.times[-1]) - int(bars.times[0])) / SECONDS_PER_CALENDAR_YEAR
    growth = final / initial_cash
    cagr = (growth ** (1 / years) - 1) if years > 0 else 0.0

    span = span or max_drawdown_span(equity)
    pnl = run.pnl
    n_trades = len(pnl)
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())

    return BacktestMetrics(
        start=int(bars.times[0]),
        end=int(bars.times[-1]),
        bars=len(bars),
        final_equity=final,
        total_return=growth - 1,
        cagr=cagr,
        annual_volatility=stats.annual_volatility,
        sharpe=stats.sharpe,
        sortino=stats.sortino,
        max_drawdown=span.depth,
        max_drawdown_bars=span.recovery - span.peak,
        max_drawdown_seconds=int(bars.times[span.recovery] - bars.times[span.peak]),
        win_rate=_ratio(float(np.count_nonzero(pnl > 0)), n_trades),
        profit_factor=_ratio(gross_profit, gross_loss),
        expectancy=float(pnl.mean()) if n_trades else 0.0,
        exposure=exposure(len(bars), run.entry_bar, run.exit_bar),
        trades=n_trades,
        buy_and_hold_return=float(bars.close[-1] / bars.open[0] - 1),
    )
