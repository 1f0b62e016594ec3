"""The one fill model: how an order fills on a bar, for the backtester and for paper trading.

Pure scalar functions on floats (no imports beyond `math`, no service code), written so that numba
can compile them: the ML engine's backtest kernel njit-compiles these very functions
(`ml_engine/backtests/domain/kernel.py`), business's paper trading calls them as plain Python. Two
implementations of the fill rules cannot drift apart because there is only one.

The rules (backtesting.py's broker arithmetic, which the backtester matches bit for bit):
- a market order fills at the next bar's open; an entry pays slippage on that price
  (`open * (1 ± slippage)`), an exit does not (backtesting.py adjusts only entries);
- a stop triggers when the bar's range reaches it: a buy stop on `high >= stop`, a sell stop on
  `low <= stop`; a bar that opens beyond the level fills at the open (gap), so a buy stop fills at
  `max(open, stop)` and a sell stop at `min(open, stop)`;
- a limit fills when the bar's range reaches it: a buy limit on `low <= limit` at `min(open, limit)`,
  a sell limit on `high >= limit` at `max(open, limit)`;
- when a stop-loss and a take-profit both sit inside one bar, the stop is checked first and wins;
- commission is a fraction of the traded value, paid on entry and on exit.

Side: +1.0 buys, -1.0 sells. "No fill" is NaN (numba-friendly; test it with `math.isnan`).
"""

from __future__ import annotations

import math

NO_FILL = math.nan

EXIT_NONE = -1
EXIT_STOP_LOSS = 1
EXIT_TAKE_PROFIT = 2


def entry_price(open_: float, side: float, slippage: float) -> float:
    """The price a market entry fills at: the bar's open moved against the trader by `slippage`."""
    return open_ * (1 + math.copysign(slippage, side))


def stop_fill_price(side: float, open_: float, high: float, low: float, stop: float) -> float:
    """Where a stop order fills on this bar, or NaN when the bar does not reach the stop."""
    if side > 0.0:
        if high >= stop:
            return max(open_, stop)
        return NO_FILL
    if low <= stop:
        return min(open_, stop)
    return NO_FILL


def limit_fill_price(side: float, open_: float, high: float, low: float, limit: float) -> float:
    """Where a limit order fills on this bar, or NaN when the bar does not reach the limit."""
    if side > 0.0:
        if low <= limit:
            return min(open_, limit)
        return NO_FILL
    if high >= limit:
        return max(open_, limit)
    return NO_FILL


def stop_limit_fill_price(
    side: float, open_: float, high: float, low: float, stop: float, limit: float
) -> float:
    """A stop-limit order: the stop triggers (as `stop_fill_price`), then the limit must be reachable
    in the same bar; it fills at the triggered price bounded by the limit, or NaN."""
    triggered = stop_fill_price(side, open_, high, low, stop)
    if math.isnan(triggered):
        return NO_FILL
    if side > 0.0:
        if low <= limit:
            return min(triggered, limit)
        return NO_FILL
    if high >= limit:
        return max(triggered, limit)
    return NO_FILL


def protective_exit(
    units: float,
    open_: float,
    high: float,
    low: float,
    stop_price: float,
    target_price: float,
    has_stop: bool,
    has_target: bool,
) -> tuple[int, float]:
    """The exit of an open position's stop-loss / take-profit pair (one cancels the other) on this
    bar: (EXIT_STOP_LOSS | EXIT_TAKE_PROFIT | EXIT_NONE, price). The stop is checked first."""
    exit_side = -1.0 if units > 0.0 else 1.0
    if has_stop:
        price = stop_fill_price(exit_side, open_, high, low, stop_price)
        if not math.isnan(price):
            return EXIT_STOP_LOSS, price
    if has_target:
        price = limit_fill_price(exit_side, open_, high, low, target_price)
        if not math.isnan(price):
            return EXIT_TAKE_PROFIT, price
    return EXIT_NONE, NO_FILL


def bracket_prices(
    fill_price: float, side: float, stop_loss: float, take_profit: float
) -> tuple[float, float]:
    """Stop-loss and take-profit levels at fractions of the entry fill price (NaN fraction: none)."""
    return fill_price * (1 - side * stop_loss), fill_price * (1 + side * take_profit)


def commission_on(units: float, price: float, commission: float) -> float:
    """The commission on trading `units` (signed or not) at `price`."""
    return abs(units) * price * commission


def affordable_units(
    cash: float, open_: float, side: float, commission: float, slippage: float, fraction: float
) -> float:
    """Whole units a market entry at this open buys with `fraction` of `cash` (0.0: none affordable,
    the order is cancelled), slippage and commission included; backtesting.py's sizing expression."""
    adjusted = entry_price(open_, side, slippage)
    per_unit = adjusted + (fraction * open_ * commission) / fraction
    margin_available = max(0.0, cash)
    # `* 1.0` is backtesting.py's leverage (margin 1): exact, kept to mirror its expression.
    size = (margin_available * 1.0 * fraction) // per_unit
    if size > 0 and not size * per_unit > margin_available * 1.0:
        return size
    return 0.0


def trade_pnl(units: float, entry: float, exit_: float, commission: float) -> float:
    """A closed trade's profit: price move times signed units, less commission on both legs."""
    total_commission = commission_on(units, exit_, commission) + commission_on(units, entry, commission)
    return units * (exit_ - entry) - total_commission


def trade_return(units: float, entry: float, exit_: float, commission: float) -> float:
    """A closed trade's return as a fraction of its entry value, commission included."""
    total_commission = commission_on(units, exit_, commission) + commission_on(units, entry, commission)
    return math.copysign(1.0, units) * (exit_ / entry - 1) - total_commission / (abs(units) * entry)


def close_cash(units: float, entry: float, exit_: float, commission: float) -> float:
    """What closing the trade adds to cash (the entry commission was paid at entry)."""
    return units * (exit_ - entry) - commission_on(units, exit_, commission)


def marked_equity(cash: float, units: float, entry: float, close: float) -> float:
    """Equity with the open trade marked to `close` (backtesting.py's order of operations)."""
    if units == 0.0:
        return cash
    return cash + (close * units - units * entry)
