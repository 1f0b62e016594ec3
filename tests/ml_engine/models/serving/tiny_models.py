"""Tiny real ONNX models built with onnx.helper, carrying valid `trading.model` metadata, written
in the Triton layout: what the serving tests load when they need control over versions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ml_engine.models.serving.repository import MODEL_FILE
from ml_engine.predictions.domain.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from ml_engine.predictions.domain.model_metadata import (
    METADATA_KEY,
    OUTPUT_COLUMNS,
    ModelMetadata,
    TrainingData,
)

F = len(FEATURE_NAMES)


def weights(seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(F, len(OUTPUT_COLUMNS))).astype(np.float32)


def metadata(name: str, version: int, *, window: int = 1, **changes: object) -> ModelMetadata:
    meta = ModelMetadata(
        name=name,
        version=str(version),
        family="xgboost" if window == 1 else "gru",
        horizon="intraday",
        timeframe="1h",
        lookahead_bars=8,
        window_bars=window,
        feature_names=list(FEATURE_NAMES),
        feature_schema_hash=FEATURE_SCHEMA_HASH,
        norm_mean=[0.0] * F,
        norm_std=[1.0] * F,
        input_name="features",
        output_name="outputs",
        output_columns=list(OUTPUT_COLUMNS),
        output_indices=[0, 1, 2, 3],
        take_profit_atr=1.5,
        stop_loss_atr=1.0,
        training=TrainingData(
            ["SYNTH"],
            "2020-01-01T00:00:00+00:00",
            "2020-03-01T00:00:00+00:00",
            1000,
            "0" * 64,
            synthetic=True,
        ),
        metrics={"coverage": 0.8, "mae_pct": 0.3},
        baseline_metrics={"coverage": 0.7, "mae_pct": 0.35},
        beats_baseline=True,
        trained_at="2020-03-02T00:00:00+00:00",
    )
    return replace(meta, **changes)  # type: ignore[arg-type]


def build(meta: ModelMetadata | None, *, bias: float, window: int = 1, seed: int = 7) -> onnx.ModelProto:
    """outputs = mean over the window of x, @ W, + bias: [N, 4] float32 (sequence: [N, W, F] in)."""
    shape: list[str | int] = ["N", F] if window == 1 else ["N", window, F]
    nodes, initializers = (
        [],
        [
            numpy_helper.from_array(weights(seed), "W"),
            numpy_helper.from_array(np.full(len(OUTPUT_COLUMNS), bias, np.float32), "B"),
        ],
    )
    source = "features"
    if window > 1:
        initializers.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))
        nodes.append(helper.make_node("ReduceMean", ["features", "axes"], ["pooled"], keepdims=0))
        source = "pooled"
    nodes += [
        helper.make_node("MatMul", [source, "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], ["outputs"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, ["N", len(OUTPUT_COLUMNS)])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    if meta is not None:
        helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    return model


def write(
    root: Path,
    name: str,
    version: int,
    *,
    window: int = 1,
    meta: ModelMetadata | None = None,
    bare: bool = False,
    seed: int = 7,
) -> Path:
    """Write `<root>/<name>/<version>/model.onnx`; its bias equals the version, so outputs tell versions
    apart."""
    if meta is None and not bare:
        meta = metadata(name, version, window=window)
    folder = root / name / str(version)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    onnx.save(build(meta, bias=float(version), window=window, seed=seed), str(path))
    return path


def expected(x: np.ndarray, version: int, seed: int = 7) -> np.ndarray:
    pooled = x if x.ndim == 2 else x.mean(axis=1)
    return (pooled.astype(np.float64) @ weights(seed).astype(np.float64)) + version
