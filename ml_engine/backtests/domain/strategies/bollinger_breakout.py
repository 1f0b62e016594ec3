"""bollinger_breakout: follow a close outside the Bollinger bands until it comes back past the middle."""

from __future__ import annotations

import numpy as np
import talib

from ml_engine.backtests.domain.strategies.base import (
    ParamSpec,
    PositionArray,
    StrategyDefinition,
    StrategyParams,
    StrategySpec,
)
from ml_engine.backtests.domain.strategies.signals import from_bar, last_index_where
from ml_engine.market_data.domain.bars import Bars

SPEC = StrategySpec(
    name="bollinger_breakout",
    description=(
        "Breakout on Bollinger bands (SMA of the close +/- nbdev population standard deviations). "
        "Long when a close is above the upper band, short (or flat when shorting is off) when a close is "
        "below the lower band. A long is exited when a close is below the middle band, a short when a close "
        "is above it; then flat until the next close outside the bands."
    ),
    params=(
        ParamSpec("period", "int", 20, 2, 500, "Bars in the moving average and standard deviation."),
        ParamSpec("nbdev", "float", 2.0, 0.1, 10.0, "Band width in standard deviations."),
    ),
)


def positions(bars: Bars, params: StrategyParams) -> PositionArray:
    nbdev = float(params["nbdev"])
    upper, middle, lower = talib.BBANDS(
        bars.close, timeperiod=int(params["period"]), nbdevup=nbdev, nbdevdn=nbdev, matype=talib.MA_Type.SMA
    )
    start = first_signal_bar(params)
    close = bars.close
    with np.errstate(invalid="ignore"):
        above_upper = from_bar(close > upper, start)
        below_lower = from_bar(close < lower, start)
        below_middle = from_bar(close < middle, start)
        above_middle = from_bar(close > middle, start)
    # Long at i iff some close was above the upper band and no close since was below the middle
    # (a close below the lower band is also below the middle, so it ends the long too); shorts mirror.
    # This is the state machine "enter outside the bands, exit past the middle" without a loop.
    positions = np.zeros(len(close), dtype=np.int8)
    positions[last_index_where(above_upper) > last_index_where(below_middle)] = 1
    positions[last_index_where(below_lower) > last_index_where(above_middle)] = -1
    return positions


def first_signal_bar(params: StrategyParams) -> int:
    # Bands have their first value at period-1; like backtesting.py, that bar is history only.
    return int(params["period"])


BOLLINGER_BREAKOUT = StrategyDefinition(SPEC, positions, first_signal_bar)
