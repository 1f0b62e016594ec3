"""The request grammar shared by REST and gRPC, and the errors clients see (always on `indicators`)."""

from __future__ import annotations

import pytest

from ml_engine.indicators.domain import (
    CATALOGUE,
    MAX_INDICATORS_PER_REQUEST,
    IndicatorRequest,
    parse_indicators,
    resolve_request,
)
from service_runtime.errors import InvalidArgument


def keys(values: str | list[str]) -> list[str]:
    return [r.key for r in parse_indicators(values)]


@pytest.mark.parametrize(
    "values",
    [
        ["rsi:14", "macd:12,26,9", "bbands:20,2"],
        ["rsi:14,macd:12,26,9,bbands:20,2"],
        "rsi:14,macd:12,26,9,bbands:20,2",  # the REST query value, as one string
        ["rsi,macd,bbands"],
        ["RSI", "Macd:12", "bbands:20,2.0"],
        [" rsi : 14 , macd:12 , 26,9", "bbands"],
        ["rsi", "macd,12,26", "bbands:20"],  # a name without ':' still takes the numbers after it
        ["rsi", "", "  ", "macd,bbands"],  # blank elements add nothing
    ],
)
def test_equivalent_spellings(values: str | list[str]) -> None:
    assert keys(values) == ["rsi:14", "macd:12,26,9", "bbands:20,2"]


def test_defaults_fill_omitted_trailing_parameters() -> None:
    assert keys("macd:5,stoch:5,2,bbands:10") == ["macd:5,26,9", "stoch:5,2,3", "bbands:10,2"]
    assert parse_indicators("bbands:20,2.5")[0].params == {"period": 20, "nbdev": 2.5}


def test_identical_requests_merge_and_different_parameters_stay() -> None:
    assert keys(["rsi", "rsi:14", "RSI:14.0", "rsi:7", "obv", "obv"]) == ["rsi:14", "rsi:7", "obv"]


def test_numbers_in_any_notation() -> None:
    assert keys("sma:1e2,bbands:20,.5,bbands:20,+2") == ["sma:100", "bbands:20,0.5", "bbands:20,2"]


def test_keys_parse_back_to_equal_requests() -> None:
    for spec in CATALOGUE.values():
        request = resolve_request(spec.name)
        assert parse_indicators(request.key) == (request,)
        assert str(request) == request.key


def test_limit_counts_indicators_as_written() -> None:
    assert len(parse_indicators([f"sma:{p}" for p in range(2, 2 + MAX_INDICATORS_PER_REQUEST)])) == 20
    with pytest.raises(InvalidArgument) as raised:
        parse_indicators(",".join(["rsi"] * (MAX_INDICATORS_PER_REQUEST + 1)))
    assert (
        raised.value.violations[0].description
        == "too many indicators: at most 20 per request, 'rsi' is one more"
    )


SUPPORTED = "adx, atr, bbands, cci, ema, macd, mfi, obv, rsi, sma, stoch, vwap, willr"


@pytest.mark.parametrize(
    ("values", "description"),
    [
        ([], f"at least one indicator is required, e.g. rsi:14,macd:12,26,9; supported: {SUPPORTED}"),
        ([" ", ""], f"at least one indicator is required, e.g. rsi:14,macd:12,26,9; supported: {SUPPORTED}"),
        (["rsi", "foo:3"], f"unknown indicator 'foo'; supported: {SUPPORTED}"),
        ("macd:12,1.5", "macd: slow_period must be an integer in [2, 1000], got 1.5"),
        ("macd:12,26,0", "macd: signal_period must be an integer in [1, 1000], got 0"),
        ("rsi:1001", "rsi: period must be an integer in [2, 1000], got 1001"),
        ("rsi:-5", "rsi: period must be an integer in [2, 1000], got -5"),
        ("rsi:1e999", "rsi: period must be an integer in [2, 1000], got 1e999"),
        ("bbands:20,0", "bbands: nbdev must be a number in [0.1, 10], got 0"),
        ("rsi:14,7", "rsi: too many parameters (max 1), got 14,7"),
        ("obv:1", "obv: too many parameters (max 0), got 1"),
        ("macd:26,12", "macd: fast_period (26) must be less than slow_period (12)"),
        ("macd:12,12", "macd: fast_period (12) must be less than slow_period (12)"),
        ("rsi:", "rsi: missing parameter after ':' in 'rsi:'"),
        ("rsi:abc", "rsi: period must be a number, got 'abc'"),
        ("rsi:14:3", "rsi: period must be a number, got '14:3'"),
        ("rsi,,macd", "empty entry (stray comma?) in 'rsi,,macd'"),
        ("rsi,", "empty entry (stray comma?) in 'rsi,'"),
        ("14,rsi", "parameter '14' does not follow an indicator name"),
        ("rsi,#x", "'#x' is neither an indicator (name or name:param) nor a number"),
        ("rsi,14x", "'14x' is neither an indicator (name or name:param) nor a number"),
        ("rsi" + ",1" * 10_000, "rsi: too many parameters (max 1), got 1,1"),  # fails at the second number
        ("x" * 100, f"unknown indicator '{'x' * 40}...'; supported: {SUPPORTED}"),  # client text is clipped
    ],
)
def test_errors_name_the_field_and_the_offending_token(values: str | list[str], description: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_indicators(values)
    [violation] = raised.value.violations
    assert violation.field == "indicators"
    assert violation.description == description


def test_direct_construction_validates_and_normalises() -> None:
    assert IndicatorRequest("MACD", (12.0, 26, 9)).key == "macd:12,26,9"
    assert IndicatorRequest("bbands", (20, 2)).values == (20, 2.0)
    with pytest.raises(InvalidArgument, match=r"rsi: takes 1 parameter\(s\) \(period\), got 0"):
        IndicatorRequest("rsi")
    with pytest.raises(InvalidArgument, match=r"rsi: too many parameters \(max 1\), got 14,7"):
        resolve_request("rsi", ["14", 7])
    with pytest.raises(InvalidArgument, match=r"rsi: period must be an integer in \[2, 1000\], got nan"):
        IndicatorRequest("rsi", (float("nan"),))
