"""How one catalogue entry maps onto a TA-Lib function: input columns, kwargs, lookback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import talib
from talib import abstract

from ml_engine.indicators.domain.params import Params
from ml_engine.market_data.domain.bars import Bars, FloatArray
from ml_engine.shared.parameters import ParamValue


@dataclass(frozen=True)
class TalibCall:
    """Calls `talib.<function>(*columns, **kwargs)` with our parameter names mapped to TA-Lib's.

    `param_kwargs` maps each of our parameters to one or more TA-Lib kwargs (bbands' single
    `nbdev` feeds both `nbdevup` and `nbdevdn`); `fixed_kwargs` pins what we do not expose
    (moving-average types stay TA-Lib's default SMA).
    """

    function: str
    inputs: tuple[str, ...]
    param_kwargs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fixed_kwargs: Mapping[str, ParamValue] = field(default_factory=dict)

    def kwargs(self, params: Params) -> dict[str, ParamValue]:
        kwargs = dict(self.fixed_kwargs)
        for ours, theirs in self.param_kwargs.items():
            for kw in theirs:
                kwargs[kw] = params[ours]
        return kwargs

    def calculate(self, bars: Bars, params: Params) -> tuple[FloatArray, ...]:
        # TA-Lib needs C-contiguous float64; Bars.from_columns already gives that, so this is free.
        columns = [np.ascontiguousarray(getattr(bars, name), dtype=np.float64) for name in self.inputs]
        result = getattr(talib, self.function)(*columns, **self.kwargs(params))
        return tuple(result) if isinstance(result, tuple) else (result,)

    def lookback(self, params: Params) -> int:
        return talib_lookback(self.function, tuple(sorted(self.kwargs(params).items())))


@lru_cache(maxsize=1024)
def talib_lookback(function: str, kwargs: tuple[tuple[str, ParamValue], ...]) -> int:
    """TA-Lib's own count of leading outputs with no value (TA_XXX_Lookback), cached per parameter set."""
    # talib/abstract.pyi leaves out Function, which abstract.py defines.
    return int(abstract.Function(function, **dict(kwargs)).lookback)  # type: ignore[attr-defined]
