"""Vectorized building blocks for strategies: crossings and event -> held position."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ml_engine.backtests.domain.jit import njit_cached
from ml_engine.backtests.domain.strategies.base import PositionArray
from ml_engine.market_data.domain.bars import FloatArray

BoolArray = npt.NDArray[np.bool_]


def crosses_above(series: FloatArray, level: FloatArray | float) -> BoolArray:
    """True at bar i when series[i-1] < level[i-1] and series[i] > level[i].

    Exactly backtesting.lib.crossover: strict on both bars, False where a value is NaN.
    """
    levels = np.broadcast_to(np.asarray(level, dtype=np.float64), series.shape)
    out = np.zeros(series.shape, dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        out[1:] = (series[:-1] < levels[:-1]) & (series[1:] > levels[1:])
    return out


def crosses_below(series: FloatArray, level: FloatArray | float) -> BoolArray:
    """True at bar i when series[i-1] > level[i-1] and series[i] < level[i]."""
    levels = np.broadcast_to(np.asarray(level, dtype=np.float64), series.shape)
    out = np.zeros(series.shape, dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        out[1:] = (series[:-1] > levels[:-1]) & (series[1:] < levels[1:])
    return out


@njit_cached
def last_index_where(condition: BoolArray) -> npt.NDArray[np.int64]:
    """For each bar, the latest index <= it where `condition` held, or -1."""
    # A loop: np.maximum.accumulate over np.where(...) is several times slower on large series.
    out = np.empty(len(condition), dtype=np.int64)
    last = -1
    for i in range(len(condition)):
        if condition[i]:
            last = i
        out[i] = last
    return out


@njit_cached
def positions_from_events(go_long: BoolArray, go_short: BoolArray) -> PositionArray:
    """+1 from each `go_long` bar and -1 from each `go_short` bar, held until the other kind; 0 before
    either (and from a bar that has both)."""
    positions = np.empty(len(go_long), dtype=np.int8)
    state = 0
    for i in range(len(go_long)):
        if go_long[i] and go_short[i]:
            state = 0
        elif go_long[i]:
            state = 1
        elif go_short[i]:
            state = -1
        positions[i] = state
    return positions


def from_bar(condition: BoolArray, first_bar: int) -> BoolArray:
    """`condition` with every bar before `first_bar` cleared."""
    out = condition.copy()
    out[:first_bar] = False
    return out
