"""rsi_reversion: buy when RSI recovers from oversold, sell/short when it falls back from overbought."""

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
from ml_engine.backtests.domain.strategies.signals import crosses_above, crosses_below, positions_from_events
from ml_engine.market_data.domain.bars import Bars
from service_runtime.errors import FieldViolation

SPEC = StrategySpec(
    name="rsi_reversion",
    description=(
        "Mean reversion on Wilder's RSI of the close. Long when RSI crosses up through `lower` "
        "(RSI[i-1] < lower and RSI[i] > lower); short (or flat when shorting is off) when RSI crosses down "
        "through `upper` (RSI[i-1] > upper and RSI[i] < upper). The position is held until the opposite "
        "cross; repeated crosses in the same direction change nothing."
    ),
    params=(
        ParamSpec("period", "int", 14, 2, 200, "Bars in the RSI."),
        ParamSpec("lower", "float", 30.0, 1.0, 99.0, "Oversold level; less than upper."),
        ParamSpec("upper", "float", 70.0, 1.0, 99.0, "Overbought level; more than lower."),
    ),
)


def positions(bars: Bars, params: StrategyParams) -> PositionArray:
    rsi = talib.RSI(bars.close, timeperiod=int(params["period"]))
    return positions_from_events(crosses_above(rsi, params["lower"]), crosses_below(rsi, params["upper"]))


def first_signal_bar(params: StrategyParams) -> int:
    # TA-Lib's RSI has its first value at `period`; a cross needs that bar and the next.
    return int(params["period"]) + 1


def cross_checks(params: StrategyParams) -> Sequence[FieldViolation]:
    if params["lower"] >= params["upper"]:
        return (
            FieldViolation(
                "params.lower", f"must be less than upper ({params['upper']}), got {params['lower']}"
            ),
        )
    return ()


RSI_REVERSION = StrategyDefinition(SPEC, positions, first_signal_bar, cross_checks)
