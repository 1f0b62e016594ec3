"""Computing requested indicators over bars, and how much history they need first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ml_engine.indicators.domain.request import IndicatorRequest
from ml_engine.market_data.domain.bars import Bars, FloatArray
from ml_engine.shared.parameters import ParamValue


@dataclass(frozen=True)
class IndicatorSeries:
    """One computed request. Every output array has one float64 value per bar, NaN where there is none.

    `warmup_bars` is how many leading bars have no value because of the indicator's lookback
    (capped at the number of bars). VWAP also has none where its window traded no volume.
    """

    key: str
    name: str
    params: dict[str, ParamValue]
    warmup_bars: int
    outputs: dict[str, FloatArray]


def lookback(request: IndicatorRequest) -> int:
    """Leading bars that produce no value: TA-Lib's lookback for the same parameters.

    Fetching this many bars before a window gives a value on its first bar. Indicators with
    exponential smoothing (ema, macd, rsi, atr, adx, mfi) still depend on the history before that:
    their values settle only after several times the period.
    """
    return request.spec.lookback(request.params)


def max_lookback(requests: Iterable[IndicatorRequest]) -> int:
    """Extra history to fetch before a window so that every requested indicator has a value on its first
    bar."""
    return max((lookback(r) for r in requests), default=0)


def compute(bars: Bars, requests: Iterable[IndicatorRequest]) -> list[IndicatorSeries]:
    """The requests in the given order, each on the whole of `bars`."""
    results = []
    for request in requests:
        spec = request.spec
        params = request.params
        arrays = spec.calculate(bars, params)
        results.append(
            IndicatorSeries(
                key=request.key,
                name=spec.name,
                params=params,
                warmup_bars=min(spec.lookback(params), len(bars)),
                outputs=dict(zip(spec.outputs, arrays, strict=True)),
            )
        )
    return results
