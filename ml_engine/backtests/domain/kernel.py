"""The fill simulation: one numba loop over bars, following backtesting.py's broker arithmetic.

Per bar i, in backtesting.py's order of operations:
1. If the desired position changed at bar i-1, act at bar i's open: close the open trade at the open
   (no slippage: backtesting.py adjusts only entries), then open the new side. Units are
   int(equity * fraction // (open * (1 ± slippage) + open * commission)); 0 units cancels the entry.
2. Check the open trade's stop-loss, then its take-profit, against bar i's low/high, the entry bar
   included (the fill was at the open, so the rest of the bar came after it). The stop is checked
   first, so it wins when both levels are inside one bar. A bar that opens beyond a level fills at the
   open: long stop at min(open, stop), long take-profit at max(open, target); shorts mirror.
3. Mark equity at the close: cash + units * (close - entry). If it is <= 0 the trade is closed at the
   close and the run ends with equity 0, as backtesting.py does.
After the last bar a still-open trade is closed at the last close (exit reason END).

Floating-point operations are written in backtesting.py's order so results match it bit for bit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ml_engine.backtests.domain.jit import jit_library, njit_cached
from ml_engine.market_data.domain.bars import FloatArray, IntArray
from service_runtime import fill_model

# The fill rules live in service_runtime.fill_model, shared with business's paper trading (plain Python
# there); registered with numba here, so the bar loop below compiles the library's own functions.
jit_library(fill_model)
_entry_price = fill_model.entry_price
_protective_exit = fill_model.protective_exit
_bracket_prices = fill_model.bracket_prices
_commission_on = fill_model.commission_on
_affordable_units = fill_model.affordable_units
_trade_pnl = fill_model.trade_pnl
_trade_return = fill_model.trade_return
_close_cash = fill_model.close_cash
_marked_equity = fill_model.marked_equity

EXIT_SIGNAL = 0
EXIT_STOP_LOSS = fill_model.EXIT_STOP_LOSS
EXIT_TAKE_PROFIT = fill_model.EXIT_TAKE_PROFIT
EXIT_END = 3


class SimulationOutput(NamedTuple):
    """Per-bar equity at the close, and the closed trades as columns (units signed: negative is short)."""

    equity: FloatArray
    entry_bar: IntArray
    exit_bar: IntArray
    units: FloatArray
    entry_price: FloatArray
    exit_price: FloatArray
    pnl: FloatArray
    return_pct: FloatArray
    commission: FloatArray
    exit_reason: npt.NDArray[np.int8]


# Columns of the kernel's trade table (one float64 row per closed trade).
_ENTRY_BAR, _EXIT_BAR, _UNITS, _ENTRY_PRICE, _EXIT_PRICE, _PNL, _RETURN, _COMMISSION, _REASON = range(9)
_COLUMNS = 9


@njit_cached
def _count_changes(desired: npt.NDArray[np.int8]) -> int:
    changes = 0
    previous = 0
    for value in desired:
        if value != previous:
            changes += 1
        previous = value
    return changes


@njit_cached
def _close_trade(
    trades: FloatArray,
    row: int,
    entry_bar: int,
    exit_bar: int,
    units: float,
    entry_price: float,
    exit_price: float,
    commission: float,
    reason: int,
) -> float:
    """Writes the closed trade into `trades[row]`; returns what it adds to cash (backtesting.py's
    _close_trade)."""
    trades[row, _ENTRY_BAR] = entry_bar
    trades[row, _EXIT_BAR] = exit_bar
    trades[row, _UNITS] = units
    trades[row, _ENTRY_PRICE] = entry_price
    trades[row, _EXIT_PRICE] = exit_price
    trades[row, _PNL] = _trade_pnl(units, entry_price, exit_price, commission)
    trades[row, _RETURN] = _trade_return(units, entry_price, exit_price, commission)
    trades[row, _COMMISSION] = _commission_on(units, exit_price, commission) + _commission_on(
        units, entry_price, commission
    )
    trades[row, _REASON] = reason
    return _close_cash(units, entry_price, exit_price, commission)


@njit_cached
def _simulate(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    desired: npt.NDArray[np.int8],
    initial_cash: float,
    commission: float,
    slippage: float,
    size_fraction: float,
    stop_loss: float,
    take_profit: float,
) -> tuple[FloatArray, FloatArray]:
    n = len(close)
    equity = np.empty(n)
    # Every trade starts at a change of the desired position, so this bounds the trade count.
    trades = np.empty((_count_changes(desired), _COLUMNS))
    n_trades = 0
    has_stop = not math.isnan(stop_loss)
    has_target = not math.isnan(take_profit)

    cash = initial_cash
    units = 0.0  # signed, whole numbers; 0 when flat
    entry_price = 0.0
    entry_bar = 0
    stop_price = 0.0
    target_price = 0.0
    previous_desired = 0

    for i in range(n):
        o = open_[i]

        # 1. A change of the desired position at bar i-1 acts at bar i's open: exit, then entry.
        if i > 0 and desired[i - 1] != previous_desired:
            wanted = desired[i - 1]
            previous_desired = wanted
            if units != 0.0:
                cash += _close_trade(
                    trades, n_trades, entry_bar, i, units, entry_price, o, commission, EXIT_SIGNAL
                )
                n_trades += 1
                units = 0.0
            if wanted != 0:
                side = 1.0 if wanted > 0 else -1.0
                # No whole unit affordable: 0 units, backtesting.py's broker cancels the order.
                size = _affordable_units(cash, o, side, commission, slippage, size_fraction)
                if size > 0:
                    adjusted = _entry_price(o, side, slippage)
                    units = side * size
                    entry_price = adjusted
                    entry_bar = i
                    cash -= _commission_on(size, adjusted, commission)
                    stop_price, target_price = _bracket_prices(adjusted, side, stop_loss, take_profit)

        # 2. Stop-loss before take-profit, on this bar's range (entry bar included).
        exit_reason = -1
        exit_price = 0.0
        if units != 0.0:
            exit_reason, exit_price = _protective_exit(
                units, o, high[i], low[i], stop_price, target_price, has_stop, has_target
            )

        # 3. Mark to the close; wiped out or at the last bar, close at the close.
        if units != 0.0 and exit_reason < 0:
            marked = _marked_equity(cash, units, entry_price, close[i])
            if marked <= 0.0 or i == n - 1:
                exit_reason, exit_price = EXIT_END, close[i]
        if exit_reason >= 0:
            cash += _close_trade(
                trades, n_trades, entry_bar, i, units, entry_price, exit_price, commission, exit_reason
            )
            n_trades += 1
            units = 0.0

        bar_equity = _marked_equity(cash, units, entry_price, close[i])
        if bar_equity <= 0.0:
            # Wiped out: like backtesting.py, stop trading and report zero equity from here on.
            equity[i:] = 0.0
            break
        equity[i] = bar_equity

    return equity, trades[:n_trades]


def simulate(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    desired: npt.NDArray[np.int8],
    *,
    initial_cash: float,
    commission: float,
    slippage: float,
    size_fraction: float,
    stop_loss: float | None,
    take_profit: float | None,
) -> SimulationOutput:
    """Runs the fill loop. `desired[i]` is the position wanted after bar i's close (+1, -1, 0)."""
    equity, trades = _simulate(
        np.ascontiguousarray(open_, dtype=np.float64),
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        np.ascontiguousarray(desired, dtype=np.int8),
        float(initial_cash),
        float(commission),
        float(slippage),
        float(size_fraction),
        math.nan if stop_loss is None else float(stop_loss),
        math.nan if take_profit is None else float(take_profit),
    )
    return SimulationOutput(
        equity=equity,
        entry_bar=trades[:, _ENTRY_BAR].astype(np.int64),
        exit_bar=trades[:, _EXIT_BAR].astype(np.int64),
        units=trades[:, _UNITS].copy(),
        entry_price=trades[:, _ENTRY_PRICE].copy(),
        exit_price=trades[:, _EXIT_PRICE].copy(),
        pnl=trades[:, _PNL].copy(),
        return_pct=trades[:, _RETURN].copy(),
        commission=trades[:, _COMMISSION].copy(),
        exit_reason=trades[:, _REASON].astype(np.int8),
    )
