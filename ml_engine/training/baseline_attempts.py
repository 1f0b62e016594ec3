"""Attempts to make swing's and position's range models beat the ATR baseline, on the training's
walk-forward folds and purge (XGBoost median range models only, `reg:absoluteerror` as served):

    python -m ml_engine.training.baseline_attempts [--horizons swing,position]

Variants of the served configuration (XGB_PARAMS, all FEATURE_NAMES, target = range / ATR%):

- regularised: shallower trees, larger min_child_weight, more row/column subsampling, more L2;
- volatility features: only the volatility columns (range, body, wicks, ATR%, realised vol 12/48);
- longer lookbacks: all features plus trailing 48- and 96-bar means of ATR%, range% and realised
  vol 48, and ATR% over its 96-bar mean (past bars of the same symbol only);
- residual over baseline: target = range / (ATR baseline) - 1 with base score 0, so a booster of
  zero rounds IS the baseline and early stopping can keep it there. (The served target, range /
  ATR%, is already a ratio to ATR%; this one is the ratio to the fitted baseline, started at it.)

Each is scored against the ATR baseline fit on the same rows the pipeline fits it on (training rows
for validation, training + validation rows for the test block). The variant is chosen on the
validation MAE only (both sides averaged); the held-out MAE then says whether it beats the baseline.
Nothing is written to the repository. Prints one markdown table.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass, field

import numpy as np
import xgboost as xgb

from ml_engine.market_data.domain.bars import FloatArray
from ml_engine.predictions.domain.features import FEATURE_NAMES
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.training.calibrating import check_before
from ml_engine.training.data import ATR_FEATURE, HorizonData, real_data
from ml_engine.training.fitting import XGB_PARAMS, early_stopped_booster
from ml_engine.training.pipeline import fit_baselines
from ml_engine.training.pooling_attempt import _folds
from ml_engine.training.quantile_attempt import HIGH, LOW

SIDES = {"high": HIGH, "low": LOW}
REGULARISED: dict[str, object] = {
    "max_depth": 2,
    "min_child_weight": 60,
    "subsample": 0.6,
    "colsample_bytree": 0.5,
    "reg_lambda": 30.0,
    "learning_rate": 0.03,
}
VOLATILITY_FEATURES = (
    "range_pct",
    "body_pct",
    "upper_wick_pct",
    "lower_wick_pct",
    "atr_pct",
    "volatility_12",
    "volatility_48",
)
LONG_COLUMNS = ("atr_pct", "range_pct", "volatility_48")
LONG_LOOKBACKS = (48, 96)


@dataclass(frozen=True)
class Variant:
    name: str
    params: dict[str, object] = field(default_factory=dict)
    features: tuple[str, ...] = FEATURE_NAMES
    long_lookbacks: bool = False
    residual: bool = False


VARIANTS = (
    Variant("current (served)"),
    Variant("regularised", params=REGULARISED),
    Variant("volatility features", features=VOLATILITY_FEATURES),
    Variant("longer lookbacks", long_lookbacks=True),
    Variant("residual over baseline", residual=True),
)


def _trailing_mean(values: FloatArray, bars: int) -> FloatArray:
    """Mean of the finite values among the last `bars` up to each row (NaN before `bars` rows)."""
    out = np.full(len(values), np.nan)
    if len(values) >= bars:
        view = np.lib.stride_tricks.sliding_window_view(values, bars)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (warm-up) give NaN
            out[bars - 1 :] = np.nanmean(view, axis=1)
    return out


def long_lookback_features(data: HorizonData) -> FloatArray:
    """[n, k] trailing means per symbol (never across symbols), in concat order."""
    parts = []
    for s in data.series:
        cols = []
        for name in LONG_COLUMNS:
            values = s.features[:, FEATURE_NAMES.index(name)]
            cols += [_trailing_mean(values, bars) for bars in LONG_LOOKBACKS]
        atr_pct = s.features[:, ATR_FEATURE]
        with np.errstate(divide="ignore", invalid="ignore"):
            cols.append(atr_pct / _trailing_mean(atr_pct, LONG_LOOKBACKS[-1]))
        parts.append(np.stack(cols, axis=1))
    return np.concatenate(parts)


def design(data: HorizonData, variant: Variant) -> np.ndarray:
    """The variant's input matrix (serving's NaN -> 0 on the served features; NaN = missing on the
    added long-lookback columns)."""
    features = data.concat("features")
    tab = np.nan_to_num(features[:, [FEATURE_NAMES.index(n) for n in variant.features]], nan=0.0)
    if variant.long_lookbacks:
        tab = np.concatenate([tab, long_lookback_features(data)], axis=1)
    return tab.astype(np.float32)


def _fit(variant: Variant, x: np.ndarray, y: FloatArray, xv: np.ndarray, yv: FloatArray) -> xgb.Booster:
    """One median booster on an already scaled target, early-stopped on validation."""
    params = {**XGB_PARAMS, "nthread": 1, "objective": "reg:absoluteerror", "eval_metric": "mae"}
    params.update(variant.params)
    if variant.residual:
        params["base_score"] = 0.0
    return early_stopped_booster(params, xgb.DMatrix(x, label=y), xgb.DMatrix(xv, label=yv))


def fold_scores(
    variant: Variant,
    tab: np.ndarray,
    features: FloatArray,
    labels: FloatArray,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
) -> dict[str, float]:
    """Sums of absolute errors (percent) of the variant and the ATR baseline per part and side, and
    the row counts: {"val_high_model": ..., "val_high_baseline": ..., "val_rows": ...}."""
    atr100 = np.maximum(np.nan_to_num(features[:, ATR_FEATURE], nan=0.0) * 100.0, 1e-12)
    fit_base = fit_baselines(features[train], labels[train])  # what the model's unit is fit on
    val_base = fit_base.predict(features[val])
    test_base = fit_baselines(features[np.sort(np.r_[train, val])], labels[np.sort(np.r_[train, val])])
    out: dict[str, float] = {"val_rows": float(len(val)), "test_rows": float(len(test))}
    for side, col in SIDES.items():

        def scale(rows: np.ndarray, col: int = col) -> FloatArray:
            if variant.residual:
                return np.asarray(fit_base.predict(features[rows])[:, col], dtype=np.float64)
            return np.asarray(atr100[rows], dtype=np.float64)

        shift = 1.0 if variant.residual else 0.0
        booster = _fit(
            variant,
            tab[train],
            labels[train, col] / scale(train) - shift,
            tab[val],
            labels[val, col] / scale(val) - shift,
        )
        for part, rows, base in (("val", val, val_base), ("test", test, test_base.predict(features[test]))):
            raw = np.asarray(booster.inplace_predict(tab[rows]), dtype=np.float64)
            pred = (raw + shift) * scale(rows)
            out[f"{part}_{side}_model"] = float(np.abs(pred - labels[rows, col]).sum())
            out[f"{part}_{side}_baseline"] = float(np.abs(base[:, col] - labels[rows, col]).sum())
    return out


def compare(data: HorizonData, variants: tuple[Variant, ...] = VARIANTS) -> dict[str, dict[str, float]]:
    """Pooled MAE % per variant over the folds: {variant: {"val_high_model": ..., ...}}."""
    features, labels, usable = data.concat("features"), data.concat("labels"), data.concat("usable")
    folds = _folds(data)
    for f in folds:  # validation rows strictly before the test block, per series
        check_before(f.validation, f.test, data.lengths)
    out: dict[str, dict[str, float]] = {}
    for variant in variants:
        tab = design(data, variant)
        sums: dict[str, float] = {"test_folds_won": 0.0}
        for f in folds:
            train, val, test = (r[usable[r]] for r in (f.train, f.validation, f.test))
            scores = fold_scores(variant, tab, features, labels, train, val, test)
            won = sum(scores[f"test_{s}_model"] - scores[f"test_{s}_baseline"] for s in SIDES) < 0
            sums["test_folds_won"] += float(won)
            for k, v in scores.items():
                sums[k] = sums.get(k, 0.0) + v
        pooled = {
            k: v / sums[f"{k.split('_')[0]}_rows"]
            for k, v in sums.items()
            if k.endswith(("_model", "_baseline"))
        }
        pooled["test_folds_won"] = sums["test_folds_won"]
        pooled["folds"] = float(len(folds))
        for part in ("val", "test"):
            for who in ("model", "baseline"):
                pooled[f"{part}_{who}"] = (pooled[f"{part}_high_{who}"] + pooled[f"{part}_low_{who}"]) / 2
        out[variant.name] = pooled
    return out


def choose(results: dict[str, dict[str, float]], side: str | None = None) -> str:
    """The variant with the lowest VALIDATION MAE (of `side`, or both sides averaged); test figures
    are not read."""
    key = "val_model" if side is None else f"val_{side}_model"
    return min(results, key=lambda name: results[name][key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", default="swing,position")
    args = parser.parse_args()
    print(
        "| horizon | variant | validation MAE % high / low (ATR baseline) "
        "| held-out MAE % high / low (ATR baseline) | held-out mean vs baseline | folds won |\n"
        "|---|---|---|---|---|---|"
    )
    per_side: list[str] = []
    for name in (n.strip() for n in args.horizons.split(",")):
        data = real_data(HORIZONS[name])
        assert data is not None, f"no real data for {name}"
        results = compare(data)
        chosen = choose(results)
        for variant, r in results.items():
            mark = " **(chosen on validation)**" if variant == chosen else ""
            print(
                f"| {name} | {variant}{mark} | {r['val_high_model']:.4f} / {r['val_low_model']:.4f} "
                f"({r['val_high_baseline']:.4f} / {r['val_low_baseline']:.4f}) "
                f"| {r['test_high_model']:.4f} / {r['test_low_model']:.4f} "
                f"({r['test_high_baseline']:.4f} / {r['test_low_baseline']:.4f}) "
                f"| {r['test_model']:.4f} vs {r['test_baseline']:.4f}: {_verdict(r, 'test')} "
                f"| {r['test_folds_won']:.0f} of {r['folds']:.0f} |",
                flush=True,
            )
        for side in SIDES:
            best = choose(results, side)
            r = results[best]
            per_side.append(
                f"| {name} {side} | {best} | {r[f'val_{side}_model']:.4f} vs "
                f"{r[f'val_{side}_baseline']:.4f}: {_verdict(r, f'val_{side}')} "
                f"| {r[f'test_{side}_model']:.4f} vs {r[f'test_{side}_baseline']:.4f}: "
                f"{_verdict(r, f'test_{side}')} |"
            )
    print(
        "\n| side | chosen on validation | validation MAE % vs ATR baseline "
        "| held-out MAE % vs ATR baseline |\n|---|---|---|---|"
    )
    print("\n".join(per_side))


def _verdict(r: dict[str, float], prefix: str) -> str:
    return "beats" if r[f"{prefix}_model"] < r[f"{prefix}_baseline"] else "does NOT beat"


if __name__ == "__main__":
    main()
