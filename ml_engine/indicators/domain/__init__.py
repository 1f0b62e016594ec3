"""Technical indicators over `Bars`: the catalogue, the request grammar, and TA-Lib-backed computation.

No gRPC and no I/O here; REST and gRPC handlers share `parse_indicators`, `compute`, `max_lookback`
and `json_values`.
"""

from ml_engine.indicators.domain.catalogue import (
    CATALOGUE,
    IndicatorSpec,
    find_indicator,
    supported_names,
)
from ml_engine.indicators.domain.compute import IndicatorSeries, compute, lookback, max_lookback
from ml_engine.indicators.domain.json_values import json_values
from ml_engine.indicators.domain.parser import MAX_INDICATORS_PER_REQUEST, parse_indicators
from ml_engine.indicators.domain.request import INDICATORS_FIELD, IndicatorRequest, resolve_request

__all__ = [
    "CATALOGUE",
    "INDICATORS_FIELD",
    "MAX_INDICATORS_PER_REQUEST",
    "IndicatorRequest",
    "IndicatorSeries",
    "IndicatorSpec",
    "compute",
    "find_indicator",
    "json_values",
    "lookback",
    "max_lookback",
    "parse_indicators",
    "resolve_request",
    "supported_names",
]
