"""Attempt: a quantile objective with conformalised quantile regression (CQR) vs the served approach,
conformal around the median, on the training's walk-forward folds (XGBoost only, so both sides use
the same learner and the comparison is about the objective alone):

    python -m ml_engine.training.quantile_attempt [--horizons intraday,swing,position]

- median + conformal (what serving does): `reg:absoluteerror` for the high and the low (ATR units),
  q the split-conformal quantile of max(high - median high, median low - low) / ATR% on the fold's
  validation rows;
- CQR (Romano et al. 2019): `reg:quantileerror` at 1 - (1 - c) / 2 for the high and (1 - c) / 2 for
  the low, q the conformal quantile of max(high - q_high, q_low - low) / ATR% on the same rows.

Both are scored on each fold's test block (never seen by either); validation width is what a choice
between them may use (validation coverage is nominal by construction). Prints one markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np
import xgboost as xgb

from ml_engine.market_data.domain.bars import FloatArray
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.intervals import conformal_quantile
from ml_engine.predictions.domain.walk_forward import pooled_folds, purge_gap
from ml_engine.training.data import TARGETS, real_data
from ml_engine.training.fitting import XGB_PARAMS, atr_scale, early_stopped_booster
from ml_engine.training.pipeline import TrainConfig

COVERAGE = 0.8
HIGH, LOW = TARGETS.index("range_high_pct"), TARGETS.index("range_low_pct")


def _fit(
    objective: dict[str, object], x: np.ndarray, y: FloatArray, xv: np.ndarray, yv: FloatArray
) -> xgb.Booster:
    """One booster on ATR-scaled targets, early-stopped on validation (as fitting.fit_xgb)."""
    params = {**XGB_PARAMS, "nthread": 1, **objective}
    dtrain = xgb.DMatrix(x, label=y / atr_scale(x))
    dval = xgb.DMatrix(xv, label=yv / atr_scale(xv))
    return early_stopped_booster(params, dtrain, dval)


def _predict(booster: xgb.Booster, x: np.ndarray) -> FloatArray:
    """Percent of the close, as serving's graph computes it."""
    return np.asarray(booster.inplace_predict(x), dtype=np.float64) * atr_scale(x)


def _objectives(method: str) -> tuple[dict[str, object], dict[str, object]]:
    if method == "median":
        median: dict[str, object] = {"objective": "reg:absoluteerror", "eval_metric": "mae"}
        return median, median
    tail = (1.0 - COVERAGE) / 2.0
    return (
        {"objective": "reg:quantileerror", "quantile_alpha": 1.0 - tail},
        {"objective": "reg:quantileerror", "quantile_alpha": tail},
    )


def _interval_fold(
    method: str, tab: np.ndarray, labels: FloatArray, train: np.ndarray, val: np.ndarray, test: np.ndarray
) -> dict[str, float]:
    """One fold: q on validation, coverage and mean width (percent) on validation and test."""
    high_obj, low_obj = _objectives(method)
    high = _fit(high_obj, tab[train], labels[train, HIGH], tab[val], labels[val, HIGH])
    low = _fit(low_obj, tab[train], labels[train, LOW], tab[val], labels[val, LOW])
    result: dict[str, float] = {}
    q = 0.0
    for part, rows in (("val", val), ("test", test)):
        scale = np.maximum(atr_scale(tab[rows]), 1e-12)
        ph, pl = _predict(high, tab[rows]), _predict(low, tab[rows])
        yh, yl = labels[rows, HIGH], labels[rows, LOW]
        if part == "val":
            q = conformal_quantile(np.maximum((yh - ph) / scale, (pl - yl) / scale), COVERAGE)
        upper, lower = ph + q * scale, pl - q * scale
        result[f"{part}_coverage"] = float(np.mean((yh <= upper) & (yl >= lower)))
        result[f"{part}_width"] = float(np.mean(upper - lower))
        result[f"{part}_rows"] = float(len(rows))
    return result


def compare(horizon_name: str) -> dict[str, dict[str, float]]:
    """Pooled figures per method over the walk-forward folds of `horizon_name`."""
    data = real_data(HORIZONS[horizon_name])
    assert data is not None, f"no real data for {horizon_name}"
    h = data.horizon
    config = TrainConfig()
    folds = pooled_folds(
        data.lengths,
        purge_gap(h.lookahead, h.window),
        config.folds,
        validation_fraction=config.validation_fraction(h.name),
    )
    features, labels, usable = data.concat("features"), data.concat("labels"), data.concat("usable")
    tab = np.nan_to_num(features, nan=0.0).astype(np.float32)
    out: dict[str, dict[str, float]] = {}
    for method in ("median", "cqr"):
        per_fold = [
            _interval_fold(
                method,
                tab,
                labels,
                f.train[usable[f.train]],
                f.validation[usable[f.validation]],
                f.test[usable[f.test]],
            )
            for f in folds
        ]
        pooled: dict[str, float] = {}
        for part in ("val", "test"):
            n = np.array([r[f"{part}_rows"] for r in per_fold])
            for metric in ("coverage", "width"):
                values = np.array([r[f"{part}_{metric}"] for r in per_fold])
                pooled[f"{part}_{metric}"] = float(np.sum(values * n) / np.sum(n))
        out[method] = pooled
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", default="intraday,swing,position")
    args = parser.parse_args()
    print(
        f"| horizon | method | validation width % | held-out {COVERAGE:.0%} coverage | held-out width % |\n"
        "|---|---|---|---|---|"
    )
    for name in args.horizons.split(","):
        for method, r in compare(name.strip()).items():
            print(
                f"| {name} | {method} | {r['val_width']:.3f} | {r['test_coverage']:.1%} "
                f"| {r['test_width']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
