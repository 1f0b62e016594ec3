"""THE feature function: training and serving both call `compute_features`, nothing else.

Every feature at row t uses bars 0..t only (tested by perturbing bars after t). Features are
scale-free (returns, ratios to the close or to ATR, oscillators in [0, 1]) so one model can read
several symbols. Rows before the longest indicator's warm-up are NaN; `FEATURE_WARMUP` says how many.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import talib

from ml_engine.market_data.domain.bars import Bars, FloatArray

FEATURE_NAMES: tuple[str, ...] = (
    "ret_1",
    "ret_3",
    "ret_12",
    "range_pct",
    "body_pct",
    "upper_wick_pct",
    "lower_wick_pct",
    "atr_pct",
    "volatility_12",
    "volatility_48",
    "rsi_14",
    "macd_hist_atr",
    "bb_position",
    "adx_14",
    "sma_20_dist_atr",
    "sma_50_dist_atr",
    "high_20_dist_atr",
    "low_20_dist_atr",
    "volume_ratio_20",
    "hour_sin",
    "hour_cos",
    "weekday_sin",
    "weekday_cos",
)
FEATURE_COUNT = len(FEATURE_NAMES)
# Rows before this index may hold NaN (ATR, ADX and SMA(50) warm-ups, the 48-bar volatility).
FEATURE_WARMUP = 60
ATR_PERIOD = 14


def feature_schema_hash(names: tuple[str, ...] | list[str] = FEATURE_NAMES) -> str:
    """SHA-256 of the ordered feature names: models record it, serving checks it."""
    return hashlib.sha256(json.dumps(list(names)).encode()).hexdigest()


FEATURE_SCHEMA_HASH = feature_schema_hash()


def atr(bars: Bars) -> FloatArray:
    """ATR(14) in price units, NaN during its warm-up."""
    return np.asarray(talib.ATR(bars.high, bars.low, bars.close, timeperiod=ATR_PERIOD), dtype=np.float64)


def compute_features(bars: Bars) -> FloatArray:
    """Features of every bar, shape [len(bars), FEATURE_COUNT], float64, columns in FEATURE_NAMES order."""
    o, h, low, c, v = bars.open, bars.high, bars.low, bars.close, bars.volume
    n = len(bars)
    out = np.full((n, FEATURE_COUNT), np.nan, dtype=np.float64)
    if n == 0:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        log_c = np.log(c)
        ret_1 = _diff(log_c, 1)
        atr_v = atr(bars)
        macd = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)[2]
        bb_up, bb_mid, bb_low = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
        vol_mean = talib.SMA(v, timeperiod=20)
        columns = {
            "ret_1": ret_1,
            "ret_3": _diff(log_c, 3),
            "ret_12": _diff(log_c, 12),
            "range_pct": (h - low) / c,
            "body_pct": (c - o) / c,
            "upper_wick_pct": (h - np.maximum(o, c)) / c,
            "lower_wick_pct": (np.minimum(o, c) - low) / c,
            "atr_pct": atr_v / c,
            "volatility_12": talib.STDDEV(ret_1, timeperiod=12),
            "volatility_48": talib.STDDEV(ret_1, timeperiod=48),
            "rsi_14": talib.RSI(c, timeperiod=14) / 100.0,
            "macd_hist_atr": macd / atr_v,
            "bb_position": (c - bb_mid) / (bb_up - bb_low),
            "adx_14": talib.ADX(h, low, c, timeperiod=14) / 100.0,
            "sma_20_dist_atr": (c - talib.SMA(c, timeperiod=20)) / atr_v,
            "sma_50_dist_atr": (c - talib.SMA(c, timeperiod=50)) / atr_v,
            "high_20_dist_atr": (talib.MAX(h, timeperiod=20) - c) / atr_v,
            "low_20_dist_atr": (c - talib.MIN(low, timeperiod=20)) / atr_v,
            # No volume (FX quotes often have none): a neutral 0 rather than NaN.
            "volume_ratio_20": np.where(vol_mean > 0, np.log(np.maximum(v, 1e-12) / vol_mean), 0.0),
        }
        hours = (bars.times % 86400) / 3600.0
        # 1970-01-01 was a Thursday: shift so Monday is 0.
        weekdays = ((bars.times // 86400) + 3) % 7
        columns["hour_sin"] = np.sin(2 * np.pi * hours / 24.0)
        columns["hour_cos"] = np.cos(2 * np.pi * hours / 24.0)
        columns["weekday_sin"] = np.sin(2 * np.pi * weekdays / 7.0)
        columns["weekday_cos"] = np.cos(2 * np.pi * weekdays / 7.0)
    for j, name in enumerate(FEATURE_NAMES):
        out[:, j] = columns[name]
    out[~np.isfinite(out)] = np.nan
    # A bounded range: a zero ATR (a flat series) must not produce huge values downstream.
    np.clip(out, -50.0, 50.0, out=out)
    return out


def _diff(values: FloatArray, lag: int) -> FloatArray:
    result = np.full(len(values), np.nan, dtype=np.float64)
    if len(values) > lag:
        result[lag:] = values[lag:] - values[:-lag]
    return result
