"""The supported indicators: what each one is, its parameters in positional order, its outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ml_engine.indicators.domain import vwap
from ml_engine.indicators.domain.params import Params
from ml_engine.indicators.domain.talib_call import TalibCall
from ml_engine.market_data.domain.bars import Bars, FloatArray
from ml_engine.shared.parameters import ParamSpec, ParamValue

__all__ = [
    "CATALOGUE",
    "IndicatorSpec",
    "find_indicator",
    "supported_names",
]

Calculator = Callable[[Bars, Params], tuple[FloatArray, ...]]
Lookback = Callable[[Params], int]
# A cross-parameter rule: an error description when the combination is invalid, else None.
Constraint = Callable[[Params], str | None]

MAX_PERIOD = 1000  # far beyond any trader setting; keeps warm-up history requests bounded


@dataclass(frozen=True)
class IndicatorSpec:
    name: str
    description: str
    params: tuple[ParamSpec, ...]
    outputs: tuple[str, ...]
    talib_functions: tuple[str, ...]
    inputs: tuple[str, ...]  # Bars columns read
    calculate: Calculator = field(repr=False, compare=False)
    lookback: Lookback = field(repr=False, compare=False)
    constraints: tuple[Constraint, ...] = field(default=(), repr=False, compare=False)

    @property
    def defaults(self) -> tuple[ParamValue, ...]:
        return tuple(p.default for p in self.params)


def _period(default: int, description: str, name: str = "period", minimum: int = 2) -> ParamSpec:
    return ParamSpec(name, "int", default, minimum, MAX_PERIOD, description)


def _talib_indicator(
    name: str,
    description: str,
    params: tuple[ParamSpec, ...],
    outputs: tuple[str, ...],
    call: TalibCall,
    constraints: tuple[Constraint, ...] = (),
) -> IndicatorSpec:
    return IndicatorSpec(
        name,
        description,
        params,
        outputs,
        (call.function,),
        call.inputs,
        call.calculate,
        call.lookback,
        constraints,
    )


def _fast_below_slow(params: Params) -> str | None:
    fast, slow = params["fast_period"], params["slow_period"]
    if fast >= slow:
        return f"fast_period ({fast}) must be less than slow_period ({slow})"
    return None


HLC = ("high", "low", "close")
SMA = 0  # TA-Lib MA_Type.SMA (its default); the moving-average type is not a parameter we expose
PERIOD = {"period": ("timeperiod",)}

_ENTRIES = (
    _talib_indicator(
        "rsi",
        "Relative Strength Index (Wilder smoothing), 0 to 100.",
        (_period(14, "bars averaged for gains and losses"),),
        ("rsi",),
        TalibCall("RSI", ("close",), PERIOD),
    ),
    _talib_indicator(
        "macd",
        "Moving Average Convergence/Divergence: EMA(fast) - EMA(slow), its EMA signal line and the "
        "histogram.",
        (
            _period(12, "fast EMA period", "fast_period"),
            _period(26, "slow EMA period", "slow_period"),
            _period(9, "signal line EMA period", "signal_period", minimum=1),
        ),
        ("macd", "signal", "histogram"),
        TalibCall(
            "MACD",
            ("close",),
            {
                "fast_period": ("fastperiod",),
                "slow_period": ("slowperiod",),
                "signal_period": ("signalperiod",),
            },
        ),
        # TA-Lib silently swaps fast and slow when fast > slow; we refuse instead of guessing.
        (_fast_below_slow,),
    ),
    _talib_indicator(
        "atr",
        "Average True Range (Wilder smoothing), in price units.",
        (_period(14, "bars averaged", minimum=1),),
        ("atr",),
        TalibCall("ATR", HLC, PERIOD),
    ),
    _talib_indicator(
        "sma",
        "Simple Moving Average of the close.",
        (_period(20, "bars averaged"),),
        ("sma",),
        TalibCall("SMA", ("close",), PERIOD),
    ),
    _talib_indicator(
        "ema",
        "Exponential Moving Average of the close (seeded with the SMA of the first period).",
        (_period(20, "EMA period; smoothing factor 2 / (period + 1)"),),
        ("ema",),
        TalibCall("EMA", ("close",), PERIOD),
    ),
    _talib_indicator(
        "bbands",
        "Bollinger Bands: SMA of the close with bands nbdev population standard deviations above and below.",
        (
            _period(20, "bars in the moving average and standard deviation"),
            ParamSpec(
                "nbdev", "float", 2.0, 0.1, 10.0, "standard deviations for both the upper and lower band"
            ),
        ),
        ("upper", "middle", "lower"),
        TalibCall(
            "BBANDS",
            ("close",),
            {"period": ("timeperiod",), "nbdev": ("nbdevup", "nbdevdn")},
            {"matype": SMA},
        ),
    ),
    _talib_indicator(
        "stoch",
        "Slow Stochastic oscillator: %K smoothed by an SMA, and %D an SMA of that, 0 to 100.",
        (
            _period(14, "bars in the highest-high / lowest-low range (fast %K)", "k_period", minimum=1),
            _period(3, "SMA smoothing of fast %K into slow %K", "k_smoothing", minimum=1),
            _period(3, "SMA of slow %K giving %D", "d_period", minimum=1),
        ),
        ("k", "d"),
        TalibCall(
            "STOCH",
            HLC,
            {"k_period": ("fastk_period",), "k_smoothing": ("slowk_period",), "d_period": ("slowd_period",)},
            {"slowk_matype": SMA, "slowd_matype": SMA},
        ),
    ),
    _talib_indicator(
        "adx",
        "Average Directional Movement Index (trend strength), 0 to 100.",
        (_period(14, "Wilder smoothing period"),),
        ("adx",),
        TalibCall("ADX", HLC, PERIOD),
    ),
    _talib_indicator(
        "obv",
        "On Balance Volume: running sum of volume signed by the close's direction.",
        (),
        ("obv",),
        TalibCall("OBV", ("close", "volume")),
    ),
    _talib_indicator(
        "cci",
        "Commodity Channel Index of the typical price.",
        (_period(20, "bars in the typical-price average and mean deviation"),),
        ("cci",),
        TalibCall("CCI", HLC, PERIOD),
    ),
    _talib_indicator(
        "willr",
        "Williams' %R, -100 to 0.",
        (_period(14, "bars in the highest-high / lowest-low range"),),
        ("willr",),
        TalibCall("WILLR", HLC, PERIOD),
    ),
    _talib_indicator(
        "mfi",
        "Money Flow Index (volume-weighted RSI of the typical price), 0 to 100.",
        (_period(14, "bars summed for positive and negative money flow"),),
        ("mfi",),
        TalibCall("MFI", (*HLC, "volume"), PERIOD),
    ),
    IndicatorSpec(
        "vwap",
        "Rolling Volume Weighted Average Price over the last period bars: sum(tp * volume) / sum(volume) "
        "with "
        "tp = (high + low + close) / 3; not session-anchored; null where the window traded no volume.",
        (_period(14, "bars in the rolling window"),),
        ("vwap",),
        vwap.TALIB_FUNCTIONS,
        ("high", "low", "close", "volume"),
        vwap.calculate,
        vwap.lookback,
    ),
)

# Read-only: handlers share it across threads.
CATALOGUE: Mapping[str, IndicatorSpec] = MappingProxyType(
    {s.name: s for s in sorted(_ENTRIES, key=lambda s: s.name)}
)


def supported_names() -> tuple[str, ...]:
    return tuple(CATALOGUE)


def find_indicator(name: str) -> IndicatorSpec | None:
    """The entry for a name in any case, or None."""
    return CATALOGUE.get(name.strip().lower())
