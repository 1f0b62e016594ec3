"""Values equal TA-Lib's on the same real series; VWAP equals a plain pandas computation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib

from ml_engine.indicators.domain import compute, lookback, max_lookback, parse_indicators
from ml_engine.market_data.domain.bars import Bars, FloatArray
from tests.ml_engine.indicators.domain.test_indicators_data import DATASETS, leading_nans

# TA-Lib called directly, written out here rather than derived from the catalogue's mapping.
Reference = Callable[[Bars], tuple[FloatArray, ...]]
TALIB_REFERENCE: dict[str, Reference] = {
    "rsi": lambda b: (talib.RSI(b.close, timeperiod=14),),
    "rsi:7": lambda b: (talib.RSI(b.close, timeperiod=7),),
    "macd": lambda b: talib.MACD(b.close, fastperiod=12, slowperiod=26, signalperiod=9),
    "macd:5,35,5": lambda b: talib.MACD(b.close, fastperiod=5, slowperiod=35, signalperiod=5),
    "atr": lambda b: (talib.ATR(b.high, b.low, b.close, timeperiod=14),),
    "sma": lambda b: (talib.SMA(b.close, timeperiod=20),),
    "sma:50": lambda b: (talib.SMA(b.close, timeperiod=50),),
    "ema": lambda b: (talib.EMA(b.close, timeperiod=20),),
    "bbands": lambda b: talib.BBANDS(b.close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0),
    "bbands:10,1.5": lambda b: talib.BBANDS(b.close, timeperiod=10, nbdevup=1.5, nbdevdn=1.5, matype=0),
    "stoch": lambda b: talib.STOCH(
        b.high,
        b.low,
        b.close,
        fastk_period=14,
        slowk_period=3,
        slowk_matype=0,
        slowd_period=3,
        slowd_matype=0,
    ),
    "stoch:5,1,2": lambda b: talib.STOCH(
        b.high, b.low, b.close, fastk_period=5, slowk_period=1, slowd_period=2
    ),
    "adx": lambda b: (talib.ADX(b.high, b.low, b.close, timeperiod=14),),
    "obv": lambda b: (talib.OBV(b.close, b.volume),),
    "cci": lambda b: (talib.CCI(b.high, b.low, b.close, timeperiod=20),),
    "willr": lambda b: (talib.WILLR(b.high, b.low, b.close, timeperiod=14),),
    "mfi": lambda b: (talib.MFI(b.high, b.low, b.close, b.volume, timeperiod=14),),
}
ALL_REQUESTS = [*TALIB_REFERENCE, "vwap", "vwap:5"]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("text", TALIB_REFERENCE)
def test_values_equal_talib_exactly(dataset: str, text: str) -> None:
    bars = DATASETS[dataset]
    [series] = compute(bars, parse_indicators(text))
    expected = TALIB_REFERENCE[text](bars)
    assert len(series.outputs) == len(expected)
    for got, want in zip(series.outputs.values(), expected, strict=True):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want, strict=True)  # NaN == NaN here


def pandas_vwap(bars: Bars, period: int) -> FloatArray:
    frame = pd.DataFrame({"h": bars.high, "l": bars.low, "c": bars.close, "v": bars.volume})
    typical = (frame.h + frame.l + frame.c) / 3
    volume = frame.v.rolling(period).sum()
    vwap = (typical * frame.v).rolling(period).sum() / volume.where(volume > 0)
    return vwap.to_numpy(dtype=np.float64)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("period", [2, 14, 50])
def test_vwap_equals_plain_pandas(dataset: str, period: int) -> None:
    bars = DATASETS[dataset]
    [series] = compute(bars, parse_indicators(f"vwap:{period}"))
    np.testing.assert_allclose(series.outputs["vwap"], pandas_vwap(bars, period), rtol=1e-12, equal_nan=True)


def test_vwap_is_null_where_the_window_traded_nothing() -> None:
    bars = DATASETS["EURUSD"].slice(0, 40)
    # Fractional volumes, then a silent stretch: a running sum would leave a residue, not 0.
    volume = np.full(40, 0.1)
    volume[10:25] = 0.0
    bars = Bars.from_columns(bars.times, bars.open, bars.high, bars.low, bars.close, volume)
    vwap = compute(bars, parse_indicators("vwap:5"))[0].outputs["vwap"]
    no_value = np.flatnonzero(np.isnan(vwap)).tolist()
    assert no_value == [0, 1, 2, 3, *range(14, 25)]  # warm-up, then windows ending in 14..24 are all zero


@pytest.mark.parametrize("dataset", DATASETS)
def test_lookback_is_the_number_of_leading_nans(dataset: str) -> None:
    bars = DATASETS[dataset]
    requests = parse_indicators(ALL_REQUESTS)
    for request, series in zip(requests, compute(bars, requests), strict=True):
        assert series.warmup_bars == lookback(request), request
        for name, values in series.outputs.items():
            assert leading_nans(values) == lookback(request), (request, name)
            assert np.isfinite(values[lookback(request) :]).all(), (request, name)


def test_series_fields() -> None:
    [series] = compute(DATASETS["GOOG"], parse_indicators("MACD:12"))
    assert series.key == "macd:12,26,9"
    assert series.name == "macd"
    assert series.params == {"fast_period": 12, "slow_period": 26, "signal_period": 9}
    assert series.warmup_bars == 33
    assert list(series.outputs) == ["macd", "signal", "histogram"]


def test_max_lookback_history_gives_a_value_on_the_first_bar_of_the_window() -> None:
    bars = DATASETS["GOOG"]
    requests = parse_indicators(ALL_REQUESTS)
    window_start = 500
    extra = max_lookback(requests)
    assert extra == 49  # sma:50; macd:12,26,9 needs 33
    for series in compute(bars.slice(window_start - extra), requests):
        for values in series.outputs.values():
            assert not np.isnan(values[extra])
    assert max_lookback([]) == 0


def test_short_and_empty_series() -> None:
    requests = parse_indicators(ALL_REQUESTS)
    for bars in (DATASETS["GOOG"].slice(0, 10), Bars.empty()):
        for request, series in zip(requests, compute(bars, requests), strict=True):
            assert series.warmup_bars == min(lookback(request), len(bars))
            for values in series.outputs.values():
                assert len(values) == len(bars)
                assert leading_nans(values) == series.warmup_bars
