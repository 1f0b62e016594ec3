"""What a backtest returns. Returns and ratios are fractions (0.12 is 12 %); times are epoch seconds (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from ml_engine.backtests.domain.config import BacktestConfig
from ml_engine.market_data.domain.bars import FloatArray, IntArray
from ml_engine.shared.parameters import ParamValue


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"


class ExitReason(StrEnum):
    SIGNAL = "signal"  # the desired position changed; filled at the next bar's open
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    END = "end"  # still open after the last bar (closed at its close), or equity wiped out


class Trade(NamedTuple):
    """One closed round trip. Times are the open times of the entry and exit bars.

    A NamedTuple rather than a frozen dataclass: as immutable, and several times cheaper to build,
    which shows with tens of thousands of trades.
    """

    side: Side
    size: int  # whole units, positive for both sides
    entry_bar: int
    entry_time: int
    entry_price: float  # the fill, slippage included
    exit_bar: int
    exit_time: int
    exit_price: float
    pnl: float  # cash, after entry and exit commission
    return_pct: float  # pnl / (size * entry_price), a fraction
    commission: float  # cash paid at entry and exit together
    exit_reason: ExitReason


@dataclass(frozen=True)
class BacktestMetrics:
    """Summary of one run (or one walk-forward fold); see metrics.py for each definition."""

    start: int  # open time of the first bar
    end: int  # open time of the last bar
    bars: int
    final_equity: float
    total_return: float
    cagr: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    max_drawdown_bars: int
    max_drawdown_seconds: int
    win_rate: float
    profit_factor: float
    expectancy: float  # mean pnl per trade, cash
    exposure: float
    trades: int  # number of closed trades
    buy_and_hold_return: float


@dataclass(frozen=True)
class EquityCurve:
    """Equity at bar closes, downsampled; `bar_indices` says which bars were kept (ascending)."""

    bar_indices: IntArray
    times: IntArray
    equity: FloatArray

    def __len__(self) -> int:
        return len(self.bar_indices)


@dataclass(frozen=True)
class BacktestResult:
    strategy: str
    params: dict[str, ParamValue]  # as used, defaults filled in
    config: BacktestConfig
    metrics: BacktestMetrics
    trades: tuple[Trade, ...]
    equity_curve: EquityCurve
    folds: tuple[BacktestMetrics, ...]  # walk-forward folds in time order; empty when not asked for
