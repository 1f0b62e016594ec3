"""sma_cross: backtesting.py's SmaCross example, with shorting (the engine drops shorts when not allowed)."""

from __future__ import annotations

from collections.abc import Sequence

import talib

from ml_engine.backtests.domain.strategies.base import (
    ParamSpec,
    PositionArray,
    StrategyDefinition,
    StrategyParams,
    StrategySpec,
)
from ml_engine.backtests.domain.strategies.signals import crosses_above, positions_from_events
from ml_engine.market_data.domain.bars import Bars
from service_runtime.errors import FieldViolation

SPEC = StrategySpec(
    name="sma_cross",
    description=(
        "Long when the fast SMA of the close crosses above the slow SMA, short (or flat when shorting is "
        "off) when it crosses below; the position is held until the opposite cross. A cross at bar i means "
        "fast < slow at bar i-1 and fast > slow at bar i (backtesting.lib.crossover)."
    ),
    params=(
        ParamSpec("fast", "int", 10, 2, 500, "Bars in the fast simple moving average."),
        ParamSpec("slow", "int", 20, 3, 1000, "Bars in the slow simple moving average; more than fast."),
    ),
)


def positions(bars: Bars, params: StrategyParams) -> PositionArray:
    fast = talib.SMA(bars.close, timeperiod=int(params["fast"]))
    slow = talib.SMA(bars.close, timeperiod=int(params["slow"]))
    return positions_from_events(crosses_above(fast, slow), crosses_above(slow, fast))


def first_signal_bar(params: StrategyParams) -> int:
    # The slow SMA's first value is at slow-1; a cross needs that bar and the next.
    return int(params["slow"])


def cross_checks(params: StrategyParams) -> Sequence[FieldViolation]:
    if params["fast"] >= params["slow"]:
        return (
            FieldViolation("params.fast", f"must be less than slow ({params['slow']}), got {params['fast']}"),
        )
    return ()


SMA_CROSS = StrategyDefinition(SPEC, positions, first_signal_bar, cross_checks)
