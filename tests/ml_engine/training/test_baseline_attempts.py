"""The baseline attempts (baseline_attempts.py): validation before test, the choice reads validation only."""

from __future__ import annotations

import itertools

import numpy as np

from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.training.baseline_attempts import (
    LONG_LOOKBACKS,
    VARIANTS,
    choose,
    compare,
    design,
    long_lookback_features,
)
from ml_engine.training.data import HorizonData, synthetic_data
from ml_engine.training.pooling_attempt import _folds


def _pooled() -> HorizonData:
    first = synthetic_data(HORIZONS["swing"], n=700, seed=3)
    second = synthetic_data(HORIZONS["swing"], n=700, seed=4)
    return HorizonData(first.horizon, first.series + second.series, True)


def test_validation_rows_come_strictly_before_test_rows_in_every_series() -> None:
    data = _pooled()
    offsets = np.cumsum([0, *data.lengths])
    folds = _folds(data)
    assert folds
    for f in folds:
        for start, stop in itertools.pairwise(offsets):
            val = f.validation[(f.validation >= start) & (f.validation < stop)]
            test = f.test[(f.test >= start) & (f.test < stop)]
            train = f.train[(f.train >= start) & (f.train < stop)]
            assert len(val) and len(test)
            assert val.max() < test.min() and train.max() < val.min()


def test_every_variant_is_scored_against_the_same_baseline() -> None:
    results = compare(_pooled())
    assert set(results) == {v.name for v in VARIANTS}
    baselines = {round(r["test_baseline"], 12) for r in results.values()}
    assert len(baselines) == 1  # the ATR baseline does not depend on the variant
    for r in results.values():
        assert all(np.isfinite(v) for v in r.values())
        assert r["val_model"] > 0 and r["test_model"] > 0 and 0 <= r["test_folds_won"] <= r["folds"]


def test_choice_reads_validation_only() -> None:
    results = {
        "a": {"val_model": 1.0, "val_high_model": 1.2, "test_model": 9.0},
        "b": {"val_model": 2.0, "val_high_model": 0.8, "test_model": 0.1},
    }
    assert choose(results) == "a"  # b's far better held-out figure is not read
    assert choose(results, "high") == "b"


def test_long_lookbacks_stay_within_each_symbol() -> None:
    data = _pooled()
    extra = long_lookback_features(data)
    own = data.lengths[0]
    # The second series starts with NaN: its first trailing windows do not reach into the first.
    assert np.isnan(extra[own : own + LONG_LOOKBACKS[0] - 1]).all()
    assert np.isfinite(extra[own - 1, 0])
    longer = next(v for v in VARIANTS if v.long_lookbacks)
    assert design(data, longer).shape[1] == design(data, VARIANTS[0]).shape[1] + extra.shape[1]
