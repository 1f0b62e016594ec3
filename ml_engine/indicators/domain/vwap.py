"""Rolling VWAP, which TA-Lib lacks, built from TA-Lib primitives.

Definition: over the last `period` bars (the current one included),

    vwap[t] = sum(tp[i] * volume[i]) / sum(volume[i]),  i in (t - period, t],  tp = (high + low + close) / 3

It is a rolling window, not the session-anchored VWAP (which resets each day): bars carry no
session boundaries and the platform serves 24/7 markets. The first `period - 1` bars, and every
bar whose window traded no volume, have no value (NaN).
"""

from __future__ import annotations

import numpy as np
import talib

from ml_engine.indicators.domain.params import Params
from ml_engine.market_data.domain.bars import Bars, FloatArray

TALIB_FUNCTIONS = ("TYPPRICE", "SUM", "MAX")


def rolling_vwap(bars: Bars, period: int) -> FloatArray:
    high, low, close, volume = (
        np.ascontiguousarray(col, dtype=np.float64) for col in (bars.high, bars.low, bars.close, bars.volume)
    )
    typical = talib.TYPPRICE(high, low, close)
    price_volume = talib.SUM(typical * volume, timeperiod=period)
    total_volume = talib.SUM(volume, timeperiod=period)
    # Decide "no volume" on MAX, which is exact; SUM is a running add/subtract and can leave a
    # tiny residue after a window of fractional volumes empties out, which would give garbage.
    traded = talib.MAX(volume, timeperiod=period) > 0  # NaN in the warm-up compares False
    out = np.full(len(bars), np.nan)
    np.divide(price_volume, total_volume, out=out, where=traded)
    return out


def calculate(bars: Bars, params: Params) -> tuple[FloatArray, ...]:
    return (rolling_vwap(bars, int(params["period"])),)


def lookback(params: Params) -> int:
    return int(params["period"]) - 1
