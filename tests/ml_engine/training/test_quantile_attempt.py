"""The quantile-objective attempt's fold: both methods calibrate on validation and are scored on test."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.training.data import ATR_FEATURE, TARGETS
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
