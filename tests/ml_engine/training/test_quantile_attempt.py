"""The attempts (quantile_attempt, pooling_attempt): calibrated / fit on validation, scored on test."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.training.data import ATR_FEATURE, TARGETS, HorizonData, synthetic_data
from ml_engine.training.pooling_attempt import _scores
from ml_engine.training.quantile_attempt import COVERAGE, _interval_fold


@pytest.mark.parametrize("method", ["median", "cqr"])
def test_fold_calibrates_on_validation_and_scores_test(method: str) -> None:
    rng = np.random.default_rng(5)
    n, features = 900, ATR_FEATURE + 2
    tab = rng.normal(size=(n, features)).astype(np.float32)
    tab[:, ATR_FEATURE] = 0.002 * (1 + np.abs(tab[:, 1]))  # ATR% of the close, volatility varies
    atr100 = tab[:, ATR_FEATURE] * 100
    labels = np.zeros((n, len(TARGETS)))
    labels[:, TARGETS.index("range_high_pct")] = atr100 * (1 + np.abs(rng.normal(size=n)))
    labels[:, TARGETS.index("range_low_pct")] = -atr100 * (1 + np.abs(rng.normal(size=n)))
    train, val, test = np.arange(0, 500), np.arange(520, 700), np.arange(720, 900)
    r = _interval_fold(method, tab, labels, train, val, test)
    # Split-conformal on the rows it was fit on: at least nominal by construction.
    assert r["val_coverage"] >= COVERAGE
    # Exchangeable synthetic rows: the test block holds about as often.
    assert abs(r["test_coverage"] - COVERAGE) <= 0.1
    assert r["val_width"] > 0 and r["test_width"] > 0 and r["test_rows"] == len(test)


def test_pooling_attempt_scores_model_and_baseline_on_the_own_rows_only() -> None:
    first = synthetic_data(HORIZONS["position"], n=500, seed=1)
    second = synthetic_data(HORIZONS["position"], n=500, seed=2)
    pooled = HorizonData(first.horizon, first.series + second.series, True)
    own = pooled.lengths[0]  # the first series' rows only are scored
    r = _scores(pooled, own)
    assert set(r) == {"val_model", "val_baseline", "test_model", "test_baseline"}
    assert all(np.isfinite(v) and v > 0 for v in r.values())
    # Scoring every row gives other figures: the own-rows cut is applied.
    assert _scores(pooled, sum(pooled.lengths)) != r
