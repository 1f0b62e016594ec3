"""Performance metrics of an equity curve, shared by the backtester (ml_engine/backtests/domain/
metrics.py) and paper trading's portfolios: one definition of returns, volatility, Sharpe, Sortino
and drawdown for both. numpy only; no service code.

r = simple return of equity from one bar close to the next, risk-free rate 0;
annual_volatility = std(r, ddof=1) * sqrt(periods_per_year); sharpe = mean(r) / std(r, ddof=1) *
sqrt(periods_per_year); sortino = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(periods_per_year);
max_drawdown = max(1 - equity / running peak). A ratio whose denominator is 0 is reported as 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 and math.isfinite(denominator) else 0.0


def bar_returns(equity: FloatArray) -> FloatArray:
    """Simple returns between consecutive closes; 0 where the previous equity is 0 (wiped out)."""
    if len(equity) == 0 or equity[-1] > 0:  # equity only reaches 0 by being wiped out, and stays there
        return equity[1:] / equity[:-1] - 1
    previous = equity[:-1]
    returns = np.zeros(len(previous))
    alive = previous > 0
    returns[alive] = equity[1:][alive] / previous[alive] - 1
    return returns


def drawdown(equity: FloatArray) -> FloatArray:
    """1 - equity / running peak, per bar (0 at a new high)."""
    return 1 - equity / np.maximum.accumulate(equity)


class ReturnStats(NamedTuple):
    annual_volatility: float
    sharpe: float
    sortino: float


def return_stats(equity: FloatArray, periods_per_year: float) -> ReturnStats:
    returns = bar_returns(equity)
    annualizer = math.sqrt(periods_per_year)
    volatility = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    mean_return = float(np.mean(returns)) if len(returns) else 0.0
    downside = (
        math.sqrt(float(np.dot(np.minimum(returns, 0.0), np.minimum(returns, 0.0))) / len(returns))
        if len(returns)
        else 0.0
    )
    return ReturnStats(
        volatility * annualizer,
        ratio(mean_return, volatility) * annualizer,
        ratio(mean_return, downside) * annualizer,
    )
