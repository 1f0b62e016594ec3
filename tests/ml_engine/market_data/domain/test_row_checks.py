"""Row checks: a bar time outside what a Timestamp holds is refused with the row, before the store
(past year 9999 it was stored and then unanswerable; past BIGINT the import failed as INTERNAL)."""

from __future__ import annotations

import pytest

from ml_engine.market_data.domain.row_checks import BarRow, check_row
from ml_engine.market_data.domain.timeframes import parse_timeframe
from ml_engine.market_data.domain.times import MAX_TIME, MIN_TIME

DAY = parse_timeframe("1d")


def row(time: int) -> BarRow:
    return BarRow(2, time, 10.0, 11.0, 9.0, 10.0, 100.0)


@pytest.mark.parametrize("time", [86_400 * 10**12, 86_400 * 10**15, MIN_TIME - 86_400])
def test_a_time_outside_the_timestamp_range_is_refused(time: int) -> None:
    reason = check_row(row(time), None, DAY)
    assert reason is not None and "is not between 0001-01-01 and 9999-12-31" in reason


@pytest.mark.parametrize("time", [MIN_TIME, -86_400, MAX_TIME - MAX_TIME % 86_400])
def test_the_first_and_last_days_and_days_before_1970_pass(time: int) -> None:
    assert check_row(row(time), None, DAY) is None
