"""Checks every imported bar must pass before anything is stored."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ml_engine.market_data.domain.timeframes import Timeframe
from ml_engine.market_data.domain.times import TIME_RANGE, in_time_range


@dataclass(frozen=True)
class BarRow:
    """One parsed row of an import, with the line it came from (1 = the header)."""

    line: int
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


def check_row(row: BarRow, previous_time: int | None, timeframe: Timeframe) -> str | None:
    """The reason `row` is invalid, or None. `previous_time` is the last accepted row's time."""
    prices = {"open": row.open, "high": row.high, "low": row.low, "close": row.close}
    for name, value in (*prices.items(), ("volume", row.volume)):
        if math.isnan(value) or math.isinf(value):
            return f"{name} is not a finite number"
    for name, value in prices.items():
        if value <= 0:
            return f"{name} must be positive, got {value:g}"
    if row.volume < 0:
        return f"volume must not be negative, got {row.volume:g}"
    if row.high < max(row.open, row.close):
        return f"high {row.high:g} is below max(open, close) {max(row.open, row.close):g}"
    if row.low > min(row.open, row.close):
        return f"low {row.low:g} is above min(open, close) {min(row.open, row.close):g}"
    if not in_time_range(row.time):
        # A Timestamp could not carry it back out (and past BIGINT the store could not hold it).
        return f"time {row.time} is not {TIME_RANGE}"
    if not timeframe.on_grid(row.time):
        return f"time {row.time} is not on the {timeframe.name} grid (UTC)"
    if previous_time is not None and row.time <= previous_time:
        return "time is not after the previous row's time"
    return None
