"""The catalogue: the indicators promised to clients, their defaults, and parameters TA-Lib accepts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import talib

from ml_engine.indicators.domain import (
    CATALOGUE,
    IndicatorRequest,
    IndicatorSpec,
    compute,
    find_indicator,
    lookback,
    resolve_request,
    supported_names,
)
from service_runtime.errors import InvalidArgument
from tests.ml_engine.indicators.domain.test_indicators_data import DATASETS, leading_nans

EXPECTED_DEFAULTS = {
    "adx": {"period": 14},
    "atr": {"period": 14},
    "bbands": {"period": 20, "nbdev": 2.0},
    "cci": {"period": 20},
    "ema": {"period": 20},
    "macd": {"fast_period": 12, "slow_period": 26, "signal_period": 9},
    "mfi": {"period": 14},
    "obv": {},
    "rsi": {"period": 14},
    "sma": {"period": 20},
    "stoch": {"k_period": 14, "k_smoothing": 3, "d_period": 3},
    "vwap": {"period": 14},
    "willr": {"period": 14},
}


def test_catalogue_lists_the_promised_indicators_sorted() -> None:
    assert supported_names() == tuple(sorted(EXPECTED_DEFAULTS))


@pytest.mark.parametrize("name", sorted(EXPECTED_DEFAULTS))
def test_defaults_in_positional_order(name: str) -> None:
    assert resolve_request(name).params == EXPECTED_DEFAULTS[name]
    assert list(resolve_request(name).params) == list(EXPECTED_DEFAULTS[name])


@pytest.mark.parametrize("spec", CATALOGUE.values(), ids=lambda s: s.name)
def test_entries_are_complete(spec: IndicatorSpec) -> None:
    assert spec.name == spec.name.lower()
    assert spec.description and spec.outputs
    assert all(hasattr(talib, f) for f in spec.talib_functions)
    for param in spec.params:
        assert param.type in ("int", "float") and param.description
        assert param.min <= param.default <= param.max
        assert isinstance(param.default, int if param.type == "int" else float)


def test_names_are_case_insensitive() -> None:
    assert find_indicator(" MACD ") is CATALOGUE["macd"]
    assert find_indicator("nope") is None


def _extreme_requests() -> Iterator[IndicatorRequest]:
    """Every parameter at its min and at its max, the others at their defaults, where the rules allow."""
    for spec in CATALOGUE.values():
        for i, param in enumerate(spec.params):
            for value in (param.min, param.max):
                values = list(spec.defaults)
                values[i] = value
                try:
                    yield resolve_request(spec.name, values)
                except InvalidArgument:  # e.g. macd fast_period 1000 >= slow_period 26
                    continue


@pytest.mark.parametrize("request_", list(_extreme_requests()), ids=str)
def test_parameter_bounds_are_accepted_by_talib(request_: IndicatorRequest) -> None:
    bars = DATASETS["GOOG"]  # 2148 bars: longer than the 1000-bar maximum period
    [series] = compute(bars, [request_])
    for values in series.outputs.values():
        assert len(values) == len(bars)
        assert leading_nans(values) == lookback(request_) == series.warmup_bars


def test_the_one_cross_parameter_rule_is_enforced() -> None:
    with pytest.raises(InvalidArgument, match=r"fast_period \(26\) must be less than slow_period \(26\)"):
        resolve_request("macd", [26, 26])
