"""Arrays to JSON-ready lists: the API writes missing values as explicit nulls, never NaN."""

from __future__ import annotations

import json

import numpy as np

from ml_engine.indicators.domain import compute, json_values, parse_indicators
from tests.ml_engine.indicators.domain.test_indicators_data import DATASETS


def test_nan_and_infinities_become_none() -> None:
    values = json_values(np.array([np.nan, 1.5, -np.inf, 0.0, np.inf, -2.25]))
    assert values == [None, 1.5, None, 0.0, None, -2.25]
    assert all(v is None or type(v) is float for v in values)


def test_round_trips_through_strict_json() -> None:
    [series] = compute(DATASETS["EURUSD"], parse_indicators("rsi"))
    values = json_values(series.outputs["rsi"])
    text = json.dumps(values, allow_nan=False)  # would raise on NaN
    assert json.loads(text)[: series.warmup_bars + 1][-2:] == [
        None,
        float(series.outputs["rsi"][series.warmup_bars]),
    ]
    assert values.count(None) == series.warmup_bars


def test_empty() -> None:
    assert json_values(np.empty(0)) == []
