"""Resampling against pandas on the real EURUSD sample, and the incomplete last bar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import EURUSD

from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.resample import resample
from ml_engine.market_data.domain.timeframes import TIMEFRAMES, parse_timeframe
from service_runtime.errors import InvalidArgument
from tests.ml_engine.frames import bars_from_frame


@pytest.mark.parametrize("target", ["4h", "1d"])
def test_matches_pandas_resample(target: str) -> None:
    bars = bars_from_frame(EURUSD)
    got = resample(bars, TIMEFRAMES["1h"], TIMEFRAMES[target])
    utc = EURUSD.tz_localize("UTC")
    frame = utc.resample("4h", origin="epoch") if target == "4h" else utc.resample("1D")
    expected = frame.agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}
    ).dropna()
    assert list(got.times) == list(expected.index.as_unit("s").asi8)
    for ours, theirs in (
        (got.open, "Open"),
        (got.high, "High"),
        (got.low, "Low"),
        (got.close, "Close"),
        (got.volume, "Volume"),
    ):
        np.testing.assert_array_equal(ours, expected[theirs].to_numpy())


def test_last_bar_is_incomplete_until_its_period_is_covered() -> None:
    hour = 3600
    day0 = 1_700_006_400  # a UTC midnight
    times = [day0 + i * hour for i in range(30)]  # one full day and 6 hours of the next
    ones = np.ones(30)
    bars = Bars.from_columns(times, ones, ones * 2, ones / 2, ones, ones)
    daily = resample(bars, TIMEFRAMES["1h"], TIMEFRAMES["1d"])
    assert list(daily.times) == [day0, day0 + 86400]
    assert daily.last_complete is False
    assert daily.volume.tolist() == [24.0, 6.0]
    full = resample(bars.slice(0, 24), TIMEFRAMES["1h"], TIMEFRAMES["1d"])
    assert full.last_complete is True
    # The caller knows data ends later (e.g. a window cut before the last stored bar).
    assert resample(bars, TIMEFRAMES["1h"], TIMEFRAMES["1d"], data_end=day0 + 2 * 86400).last_complete is True


def test_buckets_align_to_utc_boundaries() -> None:
    start = 1_700_006_400 + 3 * 3600  # 03:00 UTC
    times = [start + i * 3600 for i in range(3)]
    ones = np.ones(3)
    four_hourly = resample(
        Bars.from_columns(times, ones, ones, ones, ones, ones), TIMEFRAMES["1h"], TIMEFRAMES["4h"]
    )
    assert [t % 86400 // 3600 for t in four_hourly.times] == [0, 4]


def test_unknown_timeframe_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as error:
        parse_timeframe("7m")
    assert error.value.violations[0].field == "timeframe"
    assert pd.Timedelta(TIMEFRAMES["4h"].seconds, unit="s") == pd.Timedelta(hours=4)
