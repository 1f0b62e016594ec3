"""One horizon end to end: walk-forward folds, fitting, held-out evaluation, ensemble weights, export.

Every fold fits all models on its training rows, early-stops them on its validation rows and
predicts its test rows, which no model of that fold has seen (purged). The shipped model of each
name is the LAST fold's: fit on everything before the last test block, so that block stays unseen.
Ensemble weights of a fold come from that fold's validation rows; the held-out ensemble figures are
each fold's ensemble on its own test rows; the shipped weights are the last fold's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xgboost as xgb
from torch import nn

from ml_engine.market_data.domain.bars import FloatArray, IntArray
from ml_engine.market_data.domain.times import format_time
from ml_engine.predictions.domain.baselines import (
    AtrRangeBaseline,
    base_rate,
    fit_atr_baseline,
    persistence_range,
)
from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER, HorizonEnsemble, Member
from ml_engine.predictions.domain.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR
from ml_engine.predictions.domain.model_metadata import (
    OUTPUT_COLUMNS,
    TP_COLUMNS,
    ModelMetadata,
    TrainingData,
)
from ml_engine.predictions.domain.walk_forward import (
    DEFAULT_FOLDS,
    DEFAULT_VALIDATION_FRACTION,
    Fold,
    pooled_folds,
    purge_gap,
)
from ml_engine.training import export
from ml_engine.training.calibrating import (
    ProbabilityFold,
    RangeFold,
    check_before,
    interval_metrics,
    probability_metrics,
)
from ml_engine.training.data import ATR_FEATURE, TARGETS, HorizonData, bars_sha256, windows
from ml_engine.training.fitting import NetConfig, fit_net, fit_xgb, predict_net, predict_xgb
from ml_engine.training.metrics import calibration_bins, classifier_beats, classifier_metrics, range_metrics

# Model keys (folder name = "<horizon>_<key>") and the OUTPUT_COLUMNS each predicts.
XGB_MODELS: dict[str, str] = {
    "xgb_range_high": "range_high_pct",
    "xgb_range_low": "range_low_pct",
    "xgb_tp_long": "tp_long",
    "xgb_tp_short": "tp_short",
}
SEQUENCE_MODELS = ("gru", "transformer")
MODEL_KEYS = (*XGB_MODELS, *SEQUENCE_MODELS)
RANGE_COLUMNS = ("range_high_pct", "range_low_pct")
# Model families a run can train (a training run of the API trains one; `make train` all of them).
FAMILIES = ("xgboost", *SEQUENCE_MODELS)
# Progress of a horizon's run: (stage, fold done or 0, folds).
Progress = Callable[[str, int, int], None]


def family_keys(families: tuple[str, ...]) -> tuple[str, ...]:
    """The model keys of `families`, in MODEL_KEYS order."""
    return tuple(k for k in MODEL_KEYS if ("xgboost" if k in XGB_MODELS else k) in families)


def model_columns(key: str) -> tuple[str, ...]:
    return (XGB_MODELS[key],) if key in XGB_MODELS else OUTPUT_COLUMNS


# Validation share of each fold's training part, by horizon (default DEFAULT_VALIDATION_FRACTION).
# The validation block also calibrates the conformal interval and the probabilities, and overlapping
# lookahead windows make its rows far from independent: swing's 15 % block of 4h bars held ~110 rows,
# about 9 independent 12-bar windows, too few for a stable 80 % quantile (held-out coverage 76.8 %).
# 25 % gives ~180 rows (~15 windows). Chosen after seeing that held-out figure: said in docs/models.md.
VALIDATION_FRACTIONS: dict[str, float] = {"swing": 0.25}


@dataclass(frozen=True)
class TrainConfig:
    folds: int = DEFAULT_FOLDS
    net: NetConfig = field(default_factory=NetConfig)
    validation_fractions: dict[str, float] = field(default_factory=lambda: dict(VALIDATION_FRACTIONS))
    # The families trained (default: every one, as `make train` does).
    families: tuple[str, ...] = FAMILIES

    @property
    def model_keys(self) -> tuple[str, ...]:
        return family_keys(self.families)

    def validation_fraction(self, horizon: str) -> float:
        return self.validation_fractions.get(horizon, DEFAULT_VALIDATION_FRACTION)


@dataclass
class Baselines:
    """The naive predictions for some rows, [n, 4] in OUTPUT_COLUMNS order, plus persistence [n, 2]."""

    atr: AtrRangeBaseline
    tp_long_rate: float
    tp_short_rate: float

    def predict(self, x_raw: np.ndarray) -> FloatArray:
        high, low = self.atr.predict(x_raw[:, ATR_FEATURE])
        n = len(x_raw)
        return np.stack([high, low, np.full(n, self.tp_long_rate), np.full(n, self.tp_short_rate)], axis=1)


def fit_baselines(x_raw: np.ndarray, labels: FloatArray) -> Baselines:
    return Baselines(
        fit_atr_baseline(x_raw[:, ATR_FEATURE], labels[:, 0], labels[:, 1]),
        base_rate(labels[:, 2]),
        base_rate(labels[:, 3]),
    )


@dataclass
class FoldResult:
    fold: Fold  # usable positions only
    norm_mean: FloatArray
    norm_std: FloatArray
    # Predictions [n, 4] per model key (NaN in columns a model does not predict).
    val: dict[str, FloatArray]
    test: dict[str, FloatArray]
    # Baselines fit on train rows (for validation) and on train + validation rows (for test).
    val_baseline: Baselines
    test_baseline: Baselines
    models: dict[str, xgb.Booster | nn.Module]
    stopped_at: dict[str, int]
    seconds: float


@dataclass
class ModelReport:
    key: str
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    beats_baseline: bool
    verdicts: dict[str, bool]
    per_fold: list[dict[str, float]]
    calibration: dict[str, list[dict[str, float]]]
    # Conformal intervals around this model's range (validation-calibrated, held-out scored), per fold.
    interval_folds: list[dict[str, float]] = field(default_factory=list)


@dataclass
class HorizonResult:
    horizon: str
    timeframe: str
    lookahead: int
    window: int
    symbols: list[str]
    synthetic: bool
    reports: dict[str, ModelReport]
    baseline_metrics: dict[str, float]
    ensemble: HorizonEnsemble
    metadata: dict[str, ModelMetadata]
    fold_periods: list[dict[str, str]]
    seconds: float
    stopped_at: dict[str, int]


def _normalize(features: FloatArray, mean: FloatArray, std: FloatArray) -> np.ndarray:
    """What serving does: (x - mean) / std, then NaN -> 0 after normalization."""
    z = (features - mean) / std
    return np.nan_to_num(z, nan=0.0).astype(np.float32)


def _usable(rows: IntArray, usable: np.ndarray) -> IntArray:
    return rows[usable[rows]]


def _run_fold(data: HorizonData, fold: Fold, config: TrainConfig) -> FoldResult:
    started = time.perf_counter()
    window = data.horizon.window
    features = data.concat("features")
    labels = data.concat("labels")
    usable = data.concat("usable")
    fold = Fold(
        fold.index, _usable(fold.train, usable), _usable(fold.validation, usable), _usable(fold.test, usable)
    )
    train, val, test = fold.train, fold.validation, fold.test
    fitted = fold.fitted
    mean = np.nanmean(features[fitted], axis=0)
    std = np.nanstd(features[fitted], axis=0)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    # XGBoost reads raw features with serving's NaN -> 0 (identity normalization).
    tab = np.nan_to_num(features, nan=0.0).astype(np.float32)
    seq = _normalize(features, mean, std)
    preds_val: dict[str, FloatArray] = {}
    preds_test: dict[str, FloatArray] = {}
    models: dict[str, xgb.Booster | nn.Module] = {}
    stopped: dict[str, int] = {}
    for key, target in XGB_MODELS.items():
        if "xgboost" not in config.families:
            break
        col = TARGETS.index(target)
        booster = fit_xgb(
            target, tab[train], labels[train, col], tab[val], labels[val, col], config.net.threads
        )
        models[key] = booster
        stopped[key] = booster.num_boosted_rounds()
        for rows, out in ((val, preds_val), (test, preds_test)):
            pred = np.full((len(rows), 4), np.nan)
            pred[:, col] = predict_xgb(booster, target, tab[rows])
            out[key] = pred
    x_train, x_val, x_test = (windows(seq, r, window) for r in (train, val, test))
    for family in (f for f in SEQUENCE_MODELS if f in config.families):
        net, epochs = fit_net(
            family,
            window,
            x_train,
            labels[train],
            x_val,
            labels[val],
            float(mean[ATR_FEATURE]),
            float(std[ATR_FEATURE]),
            config.net,
        )
        models[family] = net
        stopped[family] = epochs
        preds_val[family] = predict_net(net, x_val)
        preds_test[family] = predict_net(net, x_test)
    return FoldResult(
        fold=fold,
        norm_mean=mean,
        norm_std=std,
        val=preds_val,
        test=preds_test,
        val_baseline=fit_baselines(features[train], labels[train]),
        test_baseline=fit_baselines(features[fitted], labels[fitted]),
        models=models,
        stopped_at=stopped,
        seconds=time.perf_counter() - started,
    )


def _persistence(data: HorizonData) -> FloatArray:
    parts = [np.stack(persistence_range(s.bars, data.horizon.lookahead), axis=1) for s in data.series]
    return np.concatenate(parts)


def _range_scores(y: FloatArray, pred: FloatArray, col: int | None) -> dict[str, float]:
    """Range metrics of both columns, or of one column (`col`) for a single-target model."""
    if col is None:
        return range_metrics(y[:, 0], y[:, 1], pred[:, 0], pred[:, 1])
    err = np.abs(pred[:, col] - y[:, col])
    beyond = y[:, col] > pred[:, col] if col == 0 else y[:, col] < pred[:, col]
    return {
        "mae_pct": float(err.mean()),
        "exceed_rate": float(beyond.mean()),
        "bias_pct": float((pred[:, col] - y[:, col]).mean()),
    }


def _evaluate_model(
    key: str, folds: list[FoldResult], labels: FloatArray, features: FloatArray, persistence: FloatArray
) -> ModelReport:
    cols = model_columns(key)
    rows = np.concatenate([f.fold.test for f in folds])
    y = labels[rows]
    pred = np.concatenate([f.test[key] for f in folds])
    base = np.concatenate([f.test_baseline.predict(features[f.fold.test]) for f in folds])
    pers = persistence[rows]
    metrics: dict[str, float] = {"test_rows": float(len(rows))}
    interval_folds: list[dict[str, float]] = []
    baseline: dict[str, float] = {}
    verdicts: dict[str, bool] = {}
    calibration: dict[str, list[dict[str, float]]] = {}
    per_fold: list[dict[str, float]] = []
    range_cols = [c for c in cols if c in RANGE_COLUMNS]
    if range_cols:
        single = None if len(range_cols) == 2 else RANGE_COLUMNS.index(range_cols[0])
        ours = _range_scores(y, pred, single)
        atr_s = _range_scores(y, base, single)
        pers_s = _range_scores(y, np.concatenate([pers, base[:, 2:]], axis=1), single)
        metrics.update(ours)
        baseline.update({f"{k}_atr": v for k, v in atr_s.items()})
        baseline.update({f"{k}_persistence": v for k, v in pers_s.items()})
        baseline["mae_pct"] = min(atr_s["mae_pct"], pers_s["mae_pct"])
        verdicts["range"] = ours["mae_pct"] < baseline["mae_pct"]
        sides = [RANGE_COLUMNS.index(c) for c in range_cols]
        own, interval_folds, _ = interval_metrics(_range_folds(folds, labels, features, key, sides))
        atr_own, _, _ = interval_metrics(_range_folds(folds, labels, features, None, sides))
        metrics.update(own)
        baseline.update({f"{k}_atr": v for k, v in atr_own.items()})
    for column in (c for c in cols if c in TP_COLUMNS):
        j = OUTPUT_COLUMNS.index(column)
        prefix = "" if len(cols) == 1 else f"{column}_"
        ours = classifier_metrics(y[:, j], pred[:, j])
        naive = classifier_metrics(y[:, j], base[:, j])
        naive["auc"] = 0.5  # a constant has no ranking; ties give exactly 0.5
        metrics.update({f"{prefix}{k}": v for k, v in ours.items()})
        baseline.update({f"{prefix}{k}": v for k, v in naive.items() if k in ("auc", "brier", "log_loss")})
        verdicts[column] = classifier_beats(ours, naive["brier"])
        calibration[column] = calibration_bins(y[:, j], pred[:, j])
        calibrated, bins, _ = probability_metrics(_probability_folds(folds, labels, key, j))
        metrics.update({f"{prefix}{k}": v for k, v in calibrated.items()})
        calibration[f"{column}_calibrated"] = bins
    for f in folds:
        yf, pf, bf = labels[f.fold.test], f.test[key], f.test_baseline.predict(features[f.fold.test])
        entry: dict[str, float] = {"fold": float(f.fold.index), "rows": float(len(yf))}
        if range_cols:
            single = None if len(range_cols) == 2 else RANGE_COLUMNS.index(range_cols[0])
            entry["mae_pct"] = _range_scores(yf, pf, single)["mae_pct"]
            entry["mae_pct_atr"] = _range_scores(yf, bf, single)["mae_pct"]
            pers_f = np.concatenate([persistence[f.fold.test], bf[:, 2:]], axis=1)
            entry["mae_pct_persistence"] = _range_scores(yf, pers_f, single)["mae_pct"]
            if single is None:
                entry["coverage"] = _range_scores(yf, pf, None)["coverage"]
        for column in (c for c in cols if c in TP_COLUMNS):
            j = OUTPUT_COLUMNS.index(column)
            scores = classifier_metrics(yf[:, j], pf[:, j])
            entry[f"{column}_auc"] = scores["auc"]
            entry[f"{column}_brier"] = scores["brier"]
            entry[f"{column}_brier_base"] = classifier_metrics(yf[:, j], bf[:, j])["brier"]
        per_fold.append(entry)
    for name, ok in verdicts.items():
        metrics[f"beats_{name}"] = 1.0 if ok else 0.0
    # One verdict per model: it beats its baseline only if every output it has does.
    return ModelReport(
        key, metrics, baseline, all(verdicts.values()), verdicts, per_fold, calibration, interval_folds
    )


def _atr_pct100(features: FloatArray, rows: IntArray) -> FloatArray:
    return np.asarray(features[rows, ATR_FEATURE] * 100.0, dtype=np.float64)


def _range_folds(
    folds: list[FoldResult], labels: FloatArray, features: FloatArray, key: str | None, sides: list[int]
) -> list[RangeFold]:
    """Each fold's median range of model `key` (None: the ATR baseline) on its validation and test
    rows, NaN in a side left out."""
    parts = []
    for f in folds:
        val, test = f.fold.validation, f.fold.test
        if key is None:
            p_val, p_test = f.val_baseline.predict(features[val]), f.test_baseline.predict(features[test])
        else:
            p_val, p_test = f.val[key], f.test[key]
        p_val, p_test = p_val[:, :2].copy(), p_test[:, :2].copy()
        for side in (0, 1):
            if side not in sides:
                p_val[:, side] = np.nan
                p_test[:, side] = np.nan
        parts.append(
            RangeFold(
                f.fold.index,
                labels[val, :2],
                p_val,
                _atr_pct100(features, val),
                labels[test, :2],
                p_test,
                _atr_pct100(features, test),
            )
        )
    return parts


def _probability_folds(
    folds: list[FoldResult], labels: FloatArray, key: str, j: int
) -> list[ProbabilityFold]:
    return [
        ProbabilityFold(
            f.fold.index,
            labels[f.fold.validation, j],
            f.val[key][:, j],
            labels[f.fold.test, j],
            f.test[key][:, j],
        )
        for f in folds
    ]


def _column_members(
    horizon: str,
    column: str,
    fold: FoldResult,
    labels: FloatArray,
    features: FloatArray,
    persistence: FloatArray,
) -> list[Member]:
    """Members of `column` weighted on the fold's VALIDATION rows only."""
    rows = fold.fold.validation
    y = labels[rows]
    base = fold.val_baseline.predict(features[rows])
    j = OUTPUT_COLUMNS.index(column)
    # The models this run trained (a one-family run weighs its own models against the baseline).
    candidates = [k for k in MODEL_KEYS if column in model_columns(k) and k in fold.val]
    scores: dict[str, float] = {}
    notes: dict[str, str] = {}
    if column in RANGE_COLUMNS:
        base_mae = min(
            float(np.abs(base[:, j] - y[:, j]).mean()), float(np.abs(persistence[rows, j] - y[:, j]).mean())
        )
        for key in candidates:
            mae = float(np.abs(fold.val[key][:, j] - y[:, j]).mean())
            if mae < base_mae:
                scores[key] = 1.0 / mae
            notes[key] = f"validation MAE {mae:.4f}% vs baseline {base_mae:.4f}%"
    else:
        base_brier = float(np.mean((base[:, j] - y[:, j]) ** 2))
        for key in candidates:
            m = classifier_metrics(y[:, j], fold.val[key][:, j])
            if classifier_beats(m, base_brier):
                scores[key] = 1.0 / m["brier"]
            notes[key] = (
                f"validation AUC {m['auc']:.3f}, Brier {m['brier']:.4f} vs base rate {base_brier:.4f}"
            )
    total = sum(scores.values())
    members = [
        Member(
            f"{horizon}_{k}",
            column,
            scores[k] / total if k in scores else 0.0,
            notes[k] + ("" if k in scores else ": does not beat the baseline on validation"),
        )
        for k in candidates
    ]
    if not scores:
        members.insert(
            0, Member(BASELINE_MEMBER, column, 1.0, "no model beats the naive baseline on validation")
        )
    return members


def _ensemble_predict(
    members: list[Member], horizon: str, preds: dict[str, FloatArray], base: FloatArray, j: int
) -> FloatArray:
    out = np.zeros(len(base))
    for m in members:
        if m.weight == 0.0:
            continue
        source = base if m.model == BASELINE_MEMBER else preds[m.model.removeprefix(f"{horizon}_")]
        out += m.weight * source[:, j]
    return out


def _ensemble_rows(
    horizon: str, members: dict[str, list[Member]], preds: dict[str, FloatArray], base: FloatArray
) -> FloatArray:
    """The ensemble's [n, 4] outputs for some rows from the members' predictions and the baseline's."""
    columns = [_ensemble_predict(members[c], horizon, preds, base, j) for j, c in enumerate(OUTPUT_COLUMNS)]
    return np.stack(columns, axis=1)


def _ensemble(
    data: HorizonData,
    folds: list[FoldResult],
    labels: FloatArray,
    features: FloatArray,
    persistence: FloatArray,
) -> HorizonEnsemble:
    h = data.horizon.name
    per_fold = [
        {c: _column_members(h, c, f, labels, features, persistence) for c in OUTPUT_COLUMNS} for f in folds
    ]
    preds = [
        _ensemble_rows(h, members, f.test, f.test_baseline.predict(features[f.fold.test]))
        for f, members in zip(folds, per_fold, strict=True)
    ]
    pred = np.concatenate(preds)
    rows = np.concatenate([f.fold.test for f in folds])
    y = labels[rows]
    val_preds = [
        _ensemble_rows(h, members, f.val, f.val_baseline.predict(features[f.fold.validation]))
        for f, members in zip(folds, per_fold, strict=True)
    ]
    # The served interval: conformal around the ensemble's median range; the ATR baseline's likewise.
    ensemble_folds = [
        RangeFold(
            f.fold.index,
            labels[f.fold.validation, :2],
            pv[:, :2],
            _atr_pct100(features, f.fold.validation),
            labels[f.fold.test, :2],
            pt[:, :2],
            _atr_pct100(features, f.fold.test),
        )
        for f, pv, pt in zip(folds, val_preds, preds, strict=True)
    ]
    interval, interval_per_fold, quantiles = interval_metrics(ensemble_folds)
    base_interval, _, base_quantiles = interval_metrics(_range_folds(folds, labels, features, None, [0, 1]))
    # Calibrated TP/SL probabilities: a Platt map per column, fit on each fold's validation rows.
    tp_calibration: dict[str, list[float]] = {}
    reliability: dict[str, list[dict[str, float]]] = {}
    calibrated: dict[str, dict[str, float]] = {}
    for j, column in ((2, "tp_long"), (3, "tp_short")):
        parts = [
            ProbabilityFold(
                f.fold.index, labels[f.fold.validation, j], pv[:, j], labels[f.fold.test, j], pt[:, j]
            )
            for f, pv, pt in zip(folds, val_preds, preds, strict=True)
        ]
        calibrated[column], reliability[column], params = probability_metrics(parts)
        tp_calibration[column] = [params[0], params[1]]
    rng = range_metrics(y[:, 0], y[:, 1], pred[:, 0], pred[:, 1])
    long_m = classifier_metrics(y[:, 2], pred[:, 2])
    short_m = classifier_metrics(y[:, 3], pred[:, 3])
    base_all = np.concatenate([f.test_baseline.predict(features[f.fold.test]) for f in folds])
    # Judged as served: the calibrated probability must beat the base rate's Brier score.
    long_beats = (
        long_m["auc"] > 0.52
        and calibrated["tp_long"]["brier_calibrated"] < (classifier_metrics(y[:, 2], base_all[:, 2])["brier"])
    )
    short_beats = (
        short_m["auc"] > 0.52
        and calibrated["tp_short"]["brier_calibrated"]
        < (classifier_metrics(y[:, 3], base_all[:, 3])["brier"])
    )
    heldout = {
        "coverage": rng["coverage"],
        "mae_pct": rng["mae_pct"],
        "tp_long_hit_rate": long_m["base_rate"],
        "tp_short_hit_rate": short_m["base_rate"],
        "auc_long": long_m["auc"],
        "auc_short": short_m["auc"],
        "brier_long": long_m["brier"],
        "brier_short": short_m["brier"],
        "mean_tp_long_probability": long_m["mean_prob"],
        "mean_tp_short_probability": short_m["mean_prob"],
        "test_rows": float(len(rows)),
        "brier_long_base_rate": classifier_metrics(y[:, 2], base_all[:, 2])["brier"],
        "brier_short_base_rate": classifier_metrics(y[:, 3], base_all[:, 3])["brier"],
    }
    heldout.update(interval)
    heldout.update({f"baseline_{k}": v for k, v in base_interval.items()})
    for column, side in (("tp_long", "long"), ("tp_short", "short")):
        heldout[f"brier_calibrated_{side}"] = calibrated[column]["brier_calibrated"]
        heldout[f"ece_{side}"] = calibrated[column]["ece_raw"]
        heldout[f"ece_calibrated_{side}"] = calibrated[column]["ece_calibrated"]
        heldout[f"platt_folds_{side}"] = calibrated[column]["platt_folds"]
    last = folds[-1].test_baseline
    base_mae = range_metrics(y[:, 0], y[:, 1], base_all[:, 0], base_all[:, 1])["mae_pct"]
    heldout["baseline_atr_mae_pct"] = base_mae
    notes = [
        f"held-out range MAE {rng['mae_pct']:.4f}% vs ATR baseline {base_mae:.4f}%: the ensemble "
        + ("beats it" if rng["mae_pct"] < base_mae else "does NOT beat it"),
        f"weights from the validation rows of the last walk-forward fold (fold {folds[-1].fold.index}); "
        "held-out figures: each fold's ensemble (weights from its own validation) on its own test rows",
        f"TP/SL classifiers beat the base rate on held-out folds: long {long_beats}, short {short_beats}",
    ]
    return HorizonEnsemble(
        horizon=h,
        members=per_fold[-1],
        baseline_high_coef=last.atr.high_coef,
        baseline_low_coef=last.atr.low_coef,
        tp_long_base_rate=last.tp_long_rate,
        tp_short_base_rate=last.tp_short_rate,
        classifier_beats_baseline=long_beats and short_beats,
        heldout_metrics=heldout,
        notes=notes,
        interval_quantiles=quantiles,
        baseline_interval_quantiles=base_quantiles,
        tp_calibration=tp_calibration,
        reliability=reliability,
        interval_folds=interval_per_fold,
    )


def _training_data(data: HorizonData, fold: Fold) -> TrainingData:
    """The bars the last fold's models were fit on: from each series' start to its last fitted label bar."""
    offsets = np.concatenate([[0], np.cumsum(data.lengths)[:-1]])
    fitted = fold.fitted
    parts, starts, ends, symbols = [], [], [], []
    for off, s in zip(offsets, data.series, strict=True):
        own = fitted[(fitted >= off) & (fitted < off + len(s.bars))] - off
        if len(own) == 0:
            continue
        last_bar = int(own.max()) + data.horizon.lookahead  # its label reads up to here
        parts.append(s.bars.slice(0, last_bar + 1))
        starts.append(int(s.bars.times[0]))
        ends.append(int(s.bars.times[last_bar]))
        symbols.append(s.symbol)
    return TrainingData(
        symbols=symbols,
        start=format_time(int(min(starts))),
        end=format_time(int(max(ends))),
        rows=len(fitted),
        sha256=bars_sha256(parts),
        synthetic=data.synthetic,
    )


def _fold_periods(data: HorizonData, folds: list[FoldResult]) -> list[dict[str, str]]:
    offsets = np.concatenate([[0], np.cumsum(data.lengths)[:-1]])
    result = []
    for f in folds:
        entry: dict[str, str] = {"fold": str(f.fold.index)}
        for off, s in zip(offsets, data.series, strict=True):
            own = f.fold.test[(f.fold.test >= off) & (f.fold.test < off + len(s.bars))] - off
            if len(own):
                first, last = (format_time(int(s.bars.times[i]))[:10] for i in (own.min(), own.max()))
                entry[s.symbol] = f"{first} .. {last}"
        result.append(entry)
    return result


def train_horizon(
    data: HorizonData,
    repository: Path,
    config: TrainConfig,
    version: str,
    progress: Progress = lambda stage, fold, folds: None,
) -> HorizonResult:
    """Walk-forward train + evaluate the models of `config.families` for a horizon and export the last
    fold's models as `version`; `progress` hears of each fold and stage."""
    started = time.perf_counter()
    horizon = data.horizon
    gap = purge_gap(horizon.lookahead, horizon.window)
    folds = pooled_folds(
        data.lengths, gap, config.folds, validation_fraction=config.validation_fraction(horizon.name)
    )
    for fold in folds:  # calibration (validation) rows strictly before the test block, per series
        check_before(fold.validation, fold.test, data.lengths)
    results = []
    for fold in folds:
        progress("fold", fold.index, len(folds))
        results.append(_run_fold(data, fold, config))
    progress("evaluating", len(folds), len(folds))
    keys = config.model_keys
    labels = data.concat("labels")
    features = data.concat("features")
    persistence = _persistence(data)
    reports = {k: _evaluate_model(k, results, labels, features, persistence) for k in keys}
    ensemble = _ensemble(data, results, labels, features, persistence)
    last = results[-1]
    training = _training_data(data, last.fold)
    # Parity rows: the last test block, after everything the shipped models were fit on.
    parity_rows = last.fold.test
    tab = np.nan_to_num(features, nan=0.0).astype(np.float32)
    seq = _normalize(features, last.norm_mean, last.norm_std)
    trained_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    metadata: dict[str, ModelMetadata] = {}
    n_features = len(FEATURE_NAMES)
    progress("exporting", len(folds), len(folds))
    for key in keys:
        report = reports[key]
        name = f"{horizon.name}_{key}"
        native = last.models[key]
        if key in XGB_MODELS:
            target = XGB_MODELS[key]
            assert isinstance(native, xgb.Booster)
            model = export.xgb_to_onnx(native, target, n_features)
            parity = export.xgb_parity(model, native, target, tab[parity_rows])
            family, window_bars, input_name = "xgboost", 1, export.TABULAR_INPUT
            mean, std = [0.0] * n_features, [1.0] * n_features
            classifier = target.startswith("tp_")
            output_name = export.PROBABILITY_OUTPUT if classifier else export.RANGE_OUTPUT
            columns, indices = [target], [1 if classifier else 0]
        else:
            assert isinstance(native, nn.Module)
            model = export.net_to_onnx(native, horizon.window, n_features)
            x = windows(seq, parity_rows, horizon.window)
            parity = export.net_parity(model, native, x)
            family, window_bars, input_name = key, horizon.window, export.SEQUENCE_INPUT
            mean, std = [float(v) for v in last.norm_mean], [float(v) for v in last.norm_std]
            output_name, columns, indices = export.SEQUENCE_OUTPUT, list(OUTPUT_COLUMNS), [0, 1, 2, 3]
        meta = ModelMetadata(
            name=name,
            version=version,
            family=family,
            horizon=horizon.name,
            timeframe=horizon.timeframe,
            lookahead_bars=horizon.lookahead,
            window_bars=window_bars,
            feature_names=list(FEATURE_NAMES),
            feature_schema_hash=FEATURE_SCHEMA_HASH,
            norm_mean=mean,
            norm_std=std,
            input_name=input_name,
            output_name=output_name,
            output_columns=columns,
            output_indices=indices,
            take_profit_atr=TAKE_PROFIT_ATR,
            stop_loss_atr=STOP_LOSS_ATR,
            training=training,
            metrics=report.metrics,
            baseline_metrics=report.baseline_metrics,
            beats_baseline=report.beats_baseline,
            trained_at=trained_at,
        )
        metadata[name] = export.write_model(repository, meta, model, parity, native)
    stopped = {f"{k}@fold{f.fold.index}": f.stopped_at[k] for f in results for k in keys}
    # The ATR baseline's range figures: the GRU's (both sides); without it, the first range model's.
    base_report = (reports.get(SEQUENCE_MODELS[0]) or next(iter(reports.values()))).baseline_metrics
    return HorizonResult(
        horizon=horizon.name,
        timeframe=horizon.timeframe,
        lookahead=horizon.lookahead,
        window=horizon.window,
        symbols=data.symbols,
        synthetic=data.synthetic,
        reports=reports,
        baseline_metrics=base_report,
        ensemble=ensemble,
        metadata=metadata,
        fold_periods=_fold_periods(data, results),
        seconds=time.perf_counter() - started,
        stopped_at=stopped,
    )
