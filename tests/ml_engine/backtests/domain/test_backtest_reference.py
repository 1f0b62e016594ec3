"""backtesting.py as the reference for our engine: data conversion, equivalent Strategy classes, and
the trade-by-trade comparison (with our one documented difference at the end of the data).

Reference strategies place orders exactly when our desired position changes (one trade at a time,
closing before reversing). Stop-loss and take-profit are fractions from OUR entry fill, which
backtesting.py only knows as absolute prices when the order is placed; the reference computes them
from the next bar's open (read in init(), where backtesting.py exposes the whole series). That is a
look-ahead inside the reference only, to express the same rule; the orders still fill at that open.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import EURUSD, GOOG

from ml_engine.backtests.domain import BacktestConfig, BacktestResult, ExitReason, Side
from ml_engine.backtests.domain.kernel import SimulationOutput
from tests.ml_engine.frames import bars_from_frame

REL = 1e-9


class ReferenceBase(Strategy):
    """Turns a target position (+1/-1/0) into backtesting.py orders, the way our engine does."""

    size_fraction: float = 1 - 2.220446049250313e-16
    spread: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None
    allow_short: bool = True

    def init(self) -> None:
        self._next_open = np.append(np.asarray(self.data.Open, dtype=float)[1:], np.nan)
        self._n_bars = len(self.data)
        self._target = 0

    def set_target(self, target: int) -> None:
        if target < 0 and not self.allow_short:
            target = 0
        if target == self._target:
            return
        self._target = target
        if len(self.data) == self._n_bars:
            return  # our convention: a change on the last bar has no bar to fill on
        self.position.close()
        if target == 0:
            return
        # The entry fill our engine will use, to place the stop and target from it.
        fill = self._next_open[len(self.data) - 1] * (1 + target * self.spread)
        sl = tp = None
        if self.stop_loss is not None:
            sl = fill * (1 - target * self.stop_loss)
        if self.take_profit is not None:
            tp = fill * (1 + target * self.take_profit)
        if target > 0:
            self.buy(size=self.size_fraction, sl=sl, tp=tp)
        else:
            self.sell(size=self.size_fraction, sl=sl, tp=tp)


class TargetPositions(ReferenceBase):
    """Follows a given desired-position array (engine tests)."""

    desired: Any = None

    def next(self) -> None:
        self.set_target(int(self.desired[len(self.data) - 1]))


class SmaCrossReference(ReferenceBase):
    fast = 10
    slow = 20

    def init(self) -> None:
        super().init()
        self.sma_fast = self.I(talib.SMA, self.data.Close, self.fast)
        self.sma_slow = self.I(talib.SMA, self.data.Close, self.slow)

    def next(self) -> None:
        if crossover(self.sma_fast, self.sma_slow):
            self.set_target(1)
        elif crossover(self.sma_slow, self.sma_fast):
            self.set_target(-1)


class RsiReversionReference(ReferenceBase):
    period = 14
    lower = 30.0
    upper = 70.0

    def init(self) -> None:
        super().init()
        self.rsi = self.I(talib.RSI, self.data.Close, self.period)

    def next(self) -> None:
        if crossover(self.rsi, self.lower):
            self.set_target(1)
        elif crossover(self.upper, self.rsi):
            self.set_target(-1)


class BollingerBreakoutReference(ReferenceBase):
    period = 20
    nbdev = 2.0

    def init(self) -> None:
        super().init()
        self.upper, self.middle, self.lower = self.I(
            talib.BBANDS, self.data.Close, self.period, self.nbdev, self.nbdev, talib.MA_Type.SMA
        )
        self._state = 0

    def next(self) -> None:
        close = self.data.Close[-1]
        if close > self.upper[-1]:
            self._state = 1
        elif close < self.lower[-1]:
            self._state = -1
        elif (self._state == 1 and close < self.middle[-1]) or (
            self._state == -1 and close > self.middle[-1]
        ):
            self._state = 0
        # Track the raw state (shorts included) so a long-only run exits a long on a short signal.
        self.set_target(self._state)


def run_reference(
    frame: pd.DataFrame, strategy: type[Strategy], config: BacktestConfig, **params: Any
) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "insufficient margin" cancellations are expected in some runs
        backtest = Backtest(
            frame,
            strategy,
            cash=config.initial_cash,
            commission=config.commission,
            spread=config.slippage,
            finalize_trades=True,
        )
        return backtest.run(
            size_fraction=config.order_size_fraction,
            spread=config.slippage,
            stop_loss=config.stop_loss,
            take_profit=config.take_profit,
            allow_short=config.allow_short,
            **params,
        )


def assert_matches_reference(
    frame: pd.DataFrame, ours: SimulationOutput | BacktestResult, stats: pd.Series
) -> None:
    """Same trades (bars, size, prices, pnl) and equity, except our documented end-of-data rule: a trade
    still open after the last bar exits at its close (backtesting.py: at its open)."""
    theirs = stats["_trades"]
    assert not stats["_strategy"].trades, "the reference left a trade open (an entry on the last bar)"
    columns = _our_trades(ours)
    assert len(columns["entry_bar"]) == len(theirs)
    last = len(frame) - 1
    ends_open = (
        len(theirs) > 0 and columns["exit_reason"][-1] == ExitReason.END and columns["exit_bar"][-1] == last
    )

    np.testing.assert_array_equal(columns["entry_bar"], theirs.EntryBar)
    np.testing.assert_array_equal(columns["exit_bar"], theirs.ExitBar)
    np.testing.assert_array_equal(columns["units"], theirs.Size)
    np.testing.assert_allclose(columns["entry_price"], theirs.EntryPrice, rtol=REL)
    settled = slice(0, len(theirs) - 1) if ends_open else slice(None)
    np.testing.assert_allclose(columns["exit_price"][settled], theirs.ExitPrice.values[settled], rtol=REL)
    np.testing.assert_allclose(columns["pnl"][settled], theirs.PnL.values[settled], rtol=REL, atol=1e-9)
    np.testing.assert_allclose(
        columns["return_pct"][settled], theirs.ReturnPct.values[settled], rtol=1e-7, atol=1e-12
    )

    their_equity = stats["_equity_curve"].Equity.to_numpy()
    our_equity = _our_equity(ours)
    np.testing.assert_allclose(our_equity[:-1], their_equity[:-1], rtol=REL)
    if ends_open:
        assert columns["exit_price"][-1] == frame.Close.iloc[-1]
        assert theirs.ExitPrice.iloc[-1] == frame.Open.iloc[-1]
        adjusted_final = their_equity[-1] - theirs.PnL.iloc[-1] + columns["pnl"][-1]
        assert our_equity[-1] == pytest.approx(adjusted_final, rel=REL)
    else:
        assert our_equity[-1] == pytest.approx(their_equity[-1], rel=REL)


def _our_trades(ours: SimulationOutput | BacktestResult) -> dict[str, np.ndarray]:
    if isinstance(ours, SimulationOutput):
        reasons = [
            (ExitReason.SIGNAL, ExitReason.STOP_LOSS, ExitReason.TAKE_PROFIT, ExitReason.END)[r]
            for r in ours.exit_reason
        ]
        return {
            "entry_bar": ours.entry_bar,
            "exit_bar": ours.exit_bar,
            "units": ours.units,
            "entry_price": ours.entry_price,
            "exit_price": ours.exit_price,
            "pnl": ours.pnl,
            "return_pct": ours.return_pct,
            "exit_reason": np.asarray(reasons, dtype=object),
        }
    trades = ours.trades
    return {
        "entry_bar": np.array([t.entry_bar for t in trades]),
        "exit_bar": np.array([t.exit_bar for t in trades]),
        "units": np.array([t.size if t.side == Side.LONG else -t.size for t in trades]),
        "entry_price": np.array([t.entry_price for t in trades]),
        "exit_price": np.array([t.exit_price for t in trades]),
        "pnl": np.array([t.pnl for t in trades]),
        "return_pct": np.array([t.return_pct for t in trades]),
        "exit_reason": np.array([t.exit_reason for t in trades], dtype=object),
    }


def _our_equity(ours: SimulationOutput | BacktestResult) -> np.ndarray:
    if isinstance(ours, SimulationOutput):
        return ours.equity
    curve = ours.equity_curve
    assert len(curve) == ours.metrics.bars, "run with max_equity_points >= bars to compare every bar"
    return curve.equity


def test_sample_frames_convert_to_bars() -> None:
    for frame in (EURUSD, GOOG):
        bars = bars_from_frame(frame)
        assert len(bars) == len(frame)
        assert np.all(np.diff(bars.times) > 0)
        assert bars.close[-1] == frame.Close.iloc[-1]
