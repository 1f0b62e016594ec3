"""Attempt: position's range models trained on GOOG alone vs pooled with EURUSD (the training's
HORIZON_SOURCES), scored on GOOG's rows of the same walk-forward folds (XGBoost median models, the
served range objective), each against the ATR baseline fit on the same training rows:

    python -m ml_engine.training.pooling_attempt

A choice may use the validation MAE only; the held-out MAE says whether it then holds. EURUSD alone
is not tried: its sample has about 200 daily bars. Prints one markdown table.
"""

from __future__ import annotations

import numpy as np

from ml_engine.market_data.domain.bars import FloatArray
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.walk_forward import Fold, pooled_folds, purge_gap
from ml_engine.training.data import HorizonData, real_data
from ml_engine.training.pipeline import TrainConfig, fit_baselines
from ml_engine.training.quantile_attempt import HIGH, LOW, _fit, _objectives, _predict


def _mae(y: FloatArray, pred_high: FloatArray, pred_low: FloatArray) -> float:
    return float(np.mean((np.abs(y[:, HIGH] - pred_high) + np.abs(y[:, LOW] - pred_low)) / 2))


def _folds(data: HorizonData) -> list[Fold]:
    h = data.horizon
    config = TrainConfig()
    return pooled_folds(
        data.lengths,
        purge_gap(h.lookahead, h.window),
        config.folds,
        validation_fraction=config.validation_fraction(h.name),
    )


def _scores(data: HorizonData, own_rows: int) -> dict[str, float]:
    """Model and baseline MAE on validation and test rows below `own_rows` (GOOG's), pooled over folds."""
    features, labels, usable = data.concat("features"), data.concat("labels"), data.concat("usable")
    tab = np.nan_to_num(features, nan=0.0).astype(np.float32)
    median, _ = _objectives("median")
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for f in _folds(data):
        train, val, test = (r[usable[r]] for r in (f.train, f.validation, f.test))
        high = _fit(median, tab[train], labels[train, HIGH], tab[val], labels[val, HIGH])
        low = _fit(median, tab[train], labels[train, LOW], tab[val], labels[val, LOW])
        baseline = fit_baselines(features[train], labels[train])
        for part, rows in (("val", val[val < own_rows]), ("test", test[test < own_rows])):
            base = baseline.predict(features[rows])
            for name, (ph, pl) in (
                ("model", (_predict(high, tab[rows]), _predict(low, tab[rows]))),
                ("baseline", (base[:, HIGH], base[:, LOW])),
            ):
                key = f"{part}_{name}"
                sums[key] = sums.get(key, 0.0) + _mae(labels[rows], ph, pl) * len(rows)
                counts[key] = counts.get(key, 0) + len(rows)
    return {k: sums[k] / counts[k] for k in sums}


def main() -> None:
    pooled = real_data(HORIZONS["position"])
    assert pooled is not None and pooled.symbols[0] == "GOOG"
    goog = HorizonData(pooled.horizon, pooled.series[:1], pooled.synthetic)
    own = pooled.lengths[0]
    print(
        "| position, GOOG rows | validation MAE % (ATR baseline) | held-out MAE % (ATR baseline) |\n"
        "|---|---|---|"
    )
    for label, data in (("pooled GOOG + EURUSD", pooled), ("GOOG alone", goog)):
        r = _scores(data, own)
        print(
            f"| {label} | {r['val_model']:.3f} ({r['val_baseline']:.3f}) | "
            f"{r['test_model']:.3f} ({r['test_baseline']:.3f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
