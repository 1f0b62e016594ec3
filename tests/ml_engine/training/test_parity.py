"""Every committed model: ONNX Runtime vs its framework (xgb.json / torch_state.pt) on real rows it never
saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import xgboost as xgb

from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.model_metadata import ModelMetadata
from ml_engine.training.data import HorizonData, real_data, windows
from ml_engine.training.fitting import predict_net, predict_xgb
from ml_engine.training.nets import build_net
from tests.ml_engine.training.repository import model_dirs, onnx_path, read_metadata

_DATA: dict[str, HorizonData] = {}


def _held_out_inputs(meta: ModelMetadata) -> np.ndarray:
    """Model inputs of every usable row after training.end, normalized and zero-filled as serving does."""
    if meta.horizon not in _DATA:
        data = real_data(HORIZONS[meta.horizon])
        assert data is not None
        _DATA[meta.horizon] = data
    end = np.datetime64(meta.training.end.removesuffix("Z"), "s").astype(np.int64)
    parts = []
    for series in _DATA[meta.horizon].series:
        rows = np.flatnonzero(series.usable & (series.bars.times > end))
        if len(rows) == 0:
            continue
        z = (series.features - np.asarray(meta.norm_mean)) / np.asarray(meta.norm_std)
        z = np.nan_to_num(z, nan=0.0).astype(np.float32)
        parts.append(z[rows] if meta.window_bars == 1 else windows(z, rows, meta.window_bars))
    return np.concatenate(parts)


@pytest.mark.parametrize("folder", model_dirs(), ids=lambda f: f.name)
def test_onnx_matches_the_framework_on_held_out_rows(folder: Path) -> None:
    path = onnx_path(folder)
    meta = read_metadata(onnx.load(str(path)))
    x = _held_out_inputs(meta)
    assert len(x) >= 50, "too few held-out rows after training.end"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run([meta.output_name], {meta.input_name: x})[0][:, meta.output_indices]
    if meta.family == "xgboost":
        booster = xgb.Booster()
        booster.load_model(str(path.parent / "xgb.json"))
        native = predict_xgb(booster, meta.output_columns[0], x)[:, None]
    else:
        net = build_net(meta.family, x.shape[2], meta.window_bars)
        net.load_state_dict(torch.load(path.parent / "torch_state.pt", weights_only=True))
        net.eval()
        native = predict_net(net, x)
    diff = float(np.max(np.abs(onnx_out - native)))
    assert diff < 1e-4, f"{meta.name}: max abs diff {diff:.3g}"
    assert np.isfinite(onnx_out).all()
