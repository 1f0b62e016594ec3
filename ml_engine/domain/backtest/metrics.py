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

import math

import numpy as np

from ml_engine.domain.backtest.kernel import SimulationOutput
from ml_engine.domain.backtest.results import BacktestMetrics
from ml_engine.domain.market.bars import Bars, FloatArray

SECONDS_PER_CALENDAR_YEAR = 365.25 * 86400


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 and math.isfinite(denominator) else 0.0


def bar_returns(equity: FloatArray) -> FloatArray:
    """Simple returns between consecutive closes; 0 where the previous equity is 0 (wiped out)."""
    previous = equity[:-1]
    returns = np.zeros(len(previous))
    alive = previous > 0
    returns[alive] = equity[1:][alive] / previous[alive] - 1
    return returns


def drawdown(equity: FloatArray) -> FloatArray:
    """1 - equity / running peak, per bar (0 at a new high)."""
    return 1 - equity / np.maximum.accumulate(equity)


def max_drawdown_span(equity: FloatArray) -> tuple[int, int, int]:
    """(peak, trough, recovery) bar indices of the deepest drawdown; recovery is the last bar if none."""
    dd = drawdown(equity)
    trough = int(np.argmax(dd))
    if dd[trough] <= 0:
        return trough, trough, trough
    peak_value = equity[: trough + 1].max()
    peak = int(trough - np.argmax(equity[trough::-1] >= peak_value))
    back = np.flatnonzero(equity[trough:] >= peak_value)
    recovery = trough + int(back[0]) if len(back) else len(equity) - 1
    return peak, trough, recovery


def exposure(n_bars: int, entry_bars: np.ndarray, exit_bars: np.ndarray) -> float:
    held = np.zeros(n_bars + 1, dtype=np.int64)
    np.add.at(held, entry_bars, 1)
    np.add.at(held, exit_bars + 1, -1)
    return float(np.count_nonzero(np.cumsum(held[:n_bars]) > 0)) / n_bars


def compute_metrics(bars: Bars, run: SimulationOutput, initial_cash: float, periods_per_year: float) -> BacktestMetrics:
    equity = run.equity
    final = float(equity[-1])
    returns = bar_returns(equity)
    annualizer = math.sqrt(periods_per_year)
    volatility = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    mean_return = float(np.mean(returns)) if len(returns) else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else 0.0

    years = (int(bars.times[-1]) - int(bars.times[0])) / SECONDS_PER_CALENDAR_YEAR
    growth = final / initial_cash
    cagr = (growth ** (1 / years) - 1) if years > 0 else 0.0

    peak, trough, recovery = max_drawdown_span(equity)
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
        annual_volatility=volatility * annualizer,
        sharpe=_ratio(mean_return, volatility) * annualizer,
        sortino=_ratio(mean_return, downside) * annualizer,
        max_drawdown=float(drawdown(equity)[trough]),
        max_drawdown_bars=recovery - peak,
        max_drawdown_seconds=int(bars.times[recovery] - bars.times[peak]),
        win_rate=_ratio(float(np.count_nonzero(pnl > 0)), n_trades),
        profit_factor=_ratio(gross_profit, gross_loss),
        expectancy=float(pnl.mean()) if n_trades else 0.0,
        exposure=exposure(len(bars), run.entry_bar, run.exit_bar),
        trades=n_trades,
        buy_and_hold_return=float(bars.close[-1] / bars.open[0] - 1),
    )
