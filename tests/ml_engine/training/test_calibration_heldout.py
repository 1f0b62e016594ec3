"""Calibration measured out of sample: the committed cards' held-out figures, and a fast recomputation
on the shipped EURUSD sample with fixed seeds (small XGBoost fits, not the shipped models), with the
calibration (validation) rows strictly before the test rows of every walk-forward fold."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xgboost as xgb

from ml_engine.predictions.domain.calibration import apply_platt, brier, fit_platt
from ml_engine.predictions.domain.ensemble import load_manifest
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.intervals import COVERAGES, DEFAULT_COVERAGE, coverage_key
from ml_engine.predictions.domain.walk_forward import pooled_folds, purge_gap
from ml_engine.training.calibrating import RangeFold, check_before, interval_metrics
from ml_engine.training.data import ATR_FEATURE, HorizonData, real_data
from ml_engine.training.pipeline import TrainConfig
from tests.ml_engine.predictions.support import MODEL_REPOSITORY

TOLERANCE = 0.03
SEED = 0
_DATA: dict[str, HorizonData] = {}


def _data(horizon: str) -> HorizonData:
    if horizon not in _DATA:
        data = real_data(HORIZONS[horizon])
        assert data is not None
        _DATA[horizon] = data
    return _DATA[horizon]


def test_committed_cards_meet_the_default_coverage_on_held_out_folds() -> None:
    manifest = load_manifest(MODEL_REPOSITORY)
    assert set(manifest) == {"intraday", "swing", "position"}
    for horizon, ensemble in manifest.items():
        h = ensemble.heldout_metrics
        key = coverage_key(DEFAULT_COVERAGE)
        assert abs(h[f"interval_coverage_{key}"] - DEFAULT_COVERAGE) <= TOLERANCE, horizon
        # The served quantiles are the ones scored, for every offered coverage, widening with it.
        assert [float(ensemble.interval_quantiles[coverage_key(c)]) for c in COVERAGES] == sorted(
            ensemble.interval_quantiles.values()
        )
        assert h[f"interval_width_pct_{key}"] > 0 and h[f"baseline_interval_width_pct_{key}"] > 0
        # The median range it is built around holds far less often than any interval.
        assert h["coverage"] < 0.5 * DEFAULT_COVERAGE
        assert set(ensemble.tp_calibration) == {"tp_long", "tp_short"}


@pytest.mark.parametrize("horizon", ["intraday", "swing", "position"])
def test_calibration_blocks_come_strictly_before_test_blocks(horizon: str) -> None:
    data = _data(horizon)
    h = HORIZONS[horizon]
    gap = purge_gap(h.lookahead, h.window)
    offsets = np.concatenate([[0], np.cumsum(data.lengths)])
    fraction = TrainConfig().validation_fraction(horizon)  # what training uses for this horizon
    for fold in pooled_folds(data.lengths, gap, validation_fraction=fraction):
        check_before(fold.validation, fold.test, data.lengths)
        for start, stop in itertools.pairwise(offsets):
            val = fold.validation[(fold.validation >= start) & (fold.validation < stop)]
            test = fold.test[(fold.test >= start) & (fold.test < stop)]
            # A validation label reads `lookahead` bars after its row: still before the test block.
            assert val.max() + h.lookahead < test.min()
    with pytest.raises(AssertionError, match="not before the test block"):
        check_before(np.array([5, 9]), np.array([8, 10]), [20])


def _fit_median(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> xgb.Booster:
    """A small fixed-seed median regressor in ATR multiples (what the shipped range models learn)."""
    params = {"objective": "reg:absoluteerror", "max_depth": 3, "learning_rate": 0.1, "seed": SEED}
    params |= {"nthread": 1, "tree_method": "hist", "min_child_weight": 20}
    return xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=60)


def test_recomputed_conformal_coverage_on_the_shipped_sample() -> None:
    """Fixed-seed median models per fold on EURUSD 1h; the conformal quantile from each fold's
    validation rows; coverage on its test rows, all folds pooled, within 3 points of each nominal."""
    data = _data("intraday")
    h = HORIZONS["intraday"]
    features = np.nan_to_num(data.concat("features"), nan=0.0).astype(np.float32)
    labels, usable = data.concat("labels"), data.concat("usable")
    atr = features[:, ATR_FEATURE].astype(np.float64) * 100.0
    folds = []
    for fold in pooled_folds(data.lengths, purge_gap(h.lookahead, h.window)):
        train, val, test = (rows[usable[rows]] for rows in (fold.train, fold.validation, fold.test))
        preds = {}
        for side in (0, 1):
            booster = _fit_median(features[train], labels[train, side] / atr[train], features[val], None)
            preds[side] = [booster.inplace_predict(features[r]) * atr[r] for r in (val, test)]
        folds.append(
            RangeFold(
                fold.index,
                labels[val, :2],
                np.stack([preds[0][0], preds[1][0]], axis=1),
                atr[val],
                labels[test, :2],
                np.stack([preds[0][1], preds[1][1]], axis=1),
                atr[test],
            )
        )
    metrics, per_fold, _ = interval_metrics(folds)
    for c in COVERAGES:
        assert abs(metrics[f"interval_coverage_{coverage_key(c)}"] - c) <= TOLERANCE, (c, metrics)
    assert len(per_fold) == 4 and sum(f["rows"] for f in per_fold) > 1500


def test_platt_calibration_fit_on_validation_improves_held_out_brier() -> None:
    """An over-confident classifier (deep trees, no early stop) on EURUSD 1h TP-long labels: Platt
    scaling fit on each fold's validation rows lowers the Brier score on its test rows."""
    data = _data("intraday")
    h = HORIZONS["intraday"]
    features = np.nan_to_num(data.concat("features"), nan=0.0).astype(np.float32)
    labels, usable = data.concat("labels"), data.concat("usable")
    params = {"objective": "binary:logistic", "max_depth": 6, "learning_rate": 0.3, "seed": SEED}
    params |= {"nthread": 1, "tree_method": "hist"}
    raw, calibrated, truth = [], [], []
    for fold in pooled_folds(data.lengths, purge_gap(h.lookahead, h.window)):
        train, val, test = (rows[usable[rows]] for rows in (fold.train, fold.validation, fold.test))
        booster = xgb.train(params, xgb.DMatrix(features[train], label=labels[train, 2]), num_boost_round=40)
        p_val, p_test = (
            np.asarray(booster.inplace_predict(features[r]), dtype=np.float64) for r in (val, test)
        )
        raw.append(p_test)
        calibrated.append(apply_platt(p_test, fit_platt(p_val, labels[val, 2])))
        truth.append(labels[test, 2])
    y = np.concatenate(truth)
    assert brier(y, np.concatenate(calibrated)) < brier(y, np.concatenate(raw)) - 0.005
