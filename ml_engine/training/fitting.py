"""Fitting one fold: XGBoost (one booster per target) and the sequence nets, early-stopped on validation.

Range targets are learned in multiples of the as-of ATR (label / (atr_pct * 100)) and scaled back
by the same factor at prediction time (inside the exported graph too), so one model reads symbols of
very different volatility; TP targets are learned as probabilities.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xgboost as xgb
from torch import nn

from ml_engine.market_data.domain.bars import FloatArray
from ml_engine.training.data import ATR_FEATURE
from ml_engine.training.nets import SequenceNet, as_sequence_net, build_net

SEED = 0
# One thread by default: on the 2 shared cores here, 2 torch/OpenMP threads made an epoch of these tiny
# nets 3-4x SLOWER whenever anything else ran (threads spin waiting for a descheduled sibling).
DEFAULT_THREADS = 1
XGB_PARAMS: dict[str, object] = {
    "max_depth": 3,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
    "reg_lambda": 5.0,
    "tree_method": "hist",
    "seed": SEED,
}
XGB_ROUNDS = 400
XGB_EARLY_STOP = 30


@dataclass(frozen=True)
class NetConfig:
    max_epochs: int = 25
    patience: int = 3
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    threads: int = DEFAULT_THREADS


def atr_scale(x_raw: np.ndarray) -> FloatArray:
    """ATR in percent of the close at each row (0 where unknown): the range targets' unit."""
    scale = np.nan_to_num(np.asarray(x_raw)[:, ATR_FEATURE], nan=0.0) * 100.0
    return np.maximum(scale, 0.0).astype(np.float64)


def fit_xgb(
    target: str,
    x_train: np.ndarray,
    y_train: FloatArray,
    x_val: np.ndarray,
    y_val: FloatArray,
    threads: int = DEFAULT_THREADS,
) -> xgb.Booster:
    """One booster for `target`, cut at its best validation round (so ONNX and xgb.json agree)."""
    classifier = target.startswith("tp_")
    params = {**XGB_PARAMS, "nthread": threads}
    if classifier:
        params.update({"objective": "binary:logistic", "eval_metric": "logloss"})
    else:
        params.update({"objective": "reg:absoluteerror", "eval_metric": "mae"})
        y_train = y_train / atr_scale(x_train)
        y_val = y_val / atr_scale(x_val)
    dtrain = xgb.DMatrix(x_train.astype(np.float32), label=y_train)
    dval = xgb.DMatrix(x_val.astype(np.float32), label=y_val)
    return early_stopped_booster(params, dtrain, dval)


def predict_xgb(booster: xgb.Booster, target: str, x: np.ndarray) -> FloatArray:
    """What the exported graph computes: probability, or ATR multiple times ATR percent."""
    raw = np.asarray(booster.inplace_predict(x.astype(np.float32)), dtype=np.float64)
    if target.startswith("tp_"):
        return raw
    return raw * atr_scale(x)


def _seed(threads: int) -> None:
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(threads)


def _loss(net: SequenceNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    ranges, logits, atr_pct = net.raw(x)
    target_range = y[:, :2] / torch.clamp(atr_pct, min=1e-6)
    range_loss = torch.abs(ranges - target_range).mean()
    tp_loss = nn.functional.binary_cross_entropy_with_logits(logits, y[:, 2:])
    return range_loss + tp_loss


def fit_net(
    family: str,
    window: int,
    x_train: np.ndarray,
    y_train: FloatArray,
    x_val: np.ndarray,
    y_val: FloatArray,
    atr_mean: float,
    atr_std: float,
    config: NetConfig,
) -> tuple[nn.Module, int]:
    """Trains on normalized windows [N, W, F]; keeps the epoch with the best validation loss."""
    _seed(config.threads)
    net = as_sequence_net(build_net(family, x_train.shape[2], window))
    net.atr_mean.fill_(atr_mean)
    net.atr_std.fill_(atr_std)
    xt = torch.from_numpy(x_train.astype(np.float32))
    yt = torch.from_numpy(y_train.astype(np.float32))
    xv = torch.from_numpy(x_val.astype(np.float32))
    yv = torch.from_numpy(y_val.astype(np.float32))
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(SEED)
    best_loss, best_state, best_epoch, waited = float("inf"), copy.deepcopy(net.state_dict()), 0, 0
    for epoch in range(config.max_epochs):
        net.train()
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), config.batch_size):
            idx = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = _loss(net, xt[idx], yt[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(_loss(net, xv, yv))
        if val_loss < best_loss - 1e-5:
            best_loss, best_state, best_epoch, waited = (
                val_loss,
                copy.deepcopy(net.state_dict()),
                epoch + 1,
                0,
            )
        else:
            waited += 1
            if waited >= config.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return net, best_epoch


def predict_net(net: nn.Module, x: np.ndarray) -> FloatArray:
    with torch.no_grad():
        out = net(torch.from_numpy(x.astype(np.float32)))
    return np.asarray(out.numpy(), dtype=np.float64)


def early_stopped_booster(params: dict[str, Any], dtrain: xgb.DMatrix, dval: xgb.DMatrix) -> xgb.Booster:
    """XGB_ROUNDS rounds at most, stopped once the validation metric has not improved for
    XGB_EARLY_STOP rounds, cut to the best iteration."""
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=XGB_ROUNDS,
        evals=[(dval, "validation")],
        early_stopping_rounds=XGB_EARLY_STOP,
        verbose_eval=False,
    )
    return booster[: booster.best_iteration + 1]
