"""ONNX export with metadata and a parity gate, written into the Triton-layout model repository.

Layout: <repo>/<name>/config.pbtxt, <repo>/<name>/README.md (the card, written by cards.py),
<repo>/<name>/<version>/model.onnx plus xgb.json (XGBoost) or torch_state.pt (sequence models).
A model fit on synthetic data is refused for the shipped repository before anything is written.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import torch
import xgboost as xgb
from onnx import TensorProto, helper
from onnxmltools.convert.common.data_types import FloatTensorType
from torch import nn

from ml_engine.models.serving.repository import folder_version
from ml_engine.predictions.domain.model_metadata import METADATA_KEY, ModelMetadata
from ml_engine.training.data import ATR_FEATURE
from ml_engine.training.fitting import predict_net, predict_xgb

SHIPPED_REPOSITORY = Path(__file__).resolve().parents[1] / "model_repository"
FIRST_VERSION = 1
PARITY_TOLERANCE = 1e-4
XGB_OPSET = 15
TORCH_OPSET = 18
TABULAR_INPUT = "features"
SEQUENCE_INPUT = "window"
SEQUENCE_OUTPUT = "outputs"
RANGE_OUTPUT = "range_pct"
PROBABILITY_OUTPUT = "probabilities"
TRITON_MAX_BATCH = 64


class ParityError(RuntimeError):
    """ONNX Runtime and the framework disagree beyond PARITY_TOLERANCE: the export is not written."""


class SyntheticModelRefused(RuntimeError):
    """A model fit on generated data must never land in the shipped repository."""


def xgb_to_onnx(booster: xgb.Booster, target: str, n_features: int) -> onnx.ModelProto:
    """Converted booster; classifiers keep only `probabilities`, regressors get the ATR rescale."""
    model = onnxmltools.convert_xgboost(
        booster, initial_types=[(TABULAR_INPUT, FloatTensorType([None, n_features]))], target_opset=XGB_OPSET
    )
    graph = model.graph
    if target.startswith("tp_"):
        # `label` is a by-product of the classifier node; one output keeps the Triton config simple.
        keep = [o for o in graph.output if o.name == PROBABILITY_OUTPUT]
        del graph.output[:]
        graph.output.extend(keep)
        return model
    # Trees predict multiples of ATR; the graph multiplies by atr_pct * 100 of the same input row
    # (0 where the feature is missing, as serving zero-fills NaN), like fitting.predict_xgb.
    raw = graph.output[0].name
    if not any(op.domain in ("", "ai.onnx") for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("", XGB_OPSET))
    graph.initializer.extend(
        [
            helper.make_tensor("atr_start", TensorProto.INT64, [1], [ATR_FEATURE]),
            helper.make_tensor("atr_end", TensorProto.INT64, [1], [ATR_FEATURE + 1]),
            helper.make_tensor("atr_axis", TensorProto.INT64, [1], [1]),
            helper.make_tensor("hundred", TensorProto.FLOAT, [], [100.0]),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Slice", [TABULAR_INPUT, "atr_start", "atr_end", "atr_axis"], ["atr_col"]),
            helper.make_node("Max", ["atr_col", "zero"], ["atr_pos"]),
            helper.make_node("Mul", ["atr_pos", "hundred"], ["atr_scale"]),
            helper.make_node("Mul", [raw, "atr_scale"], [RANGE_OUTPUT]),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(RANGE_OUTPUT, TensorProto.FLOAT, [None, 1]))
    onnx.checker.check_model(model)
    return model


def net_to_onnx(net: nn.Module, window: int, n_features: int) -> onnx.ModelProto:
    net.eval()
    example = torch.zeros(2, window, n_features)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        # The exporter's deprecation chatter (and GRU flat-weight notes) say nothing about this model.
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            net,
            (example,),
            dynamo=True,
            opset_version=TORCH_OPSET,
            input_names=[SEQUENCE_INPUT],
            output_names=[SEQUENCE_OUTPUT],
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    return program.model_proto


def onnx_outputs(model: onnx.ModelProto, x: np.ndarray, output: str) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return np.asarray(session.run([output], {input_name: x.astype(np.float32)})[0], dtype=np.float64)


def xgb_parity(model: onnx.ModelProto, booster: xgb.Booster, target: str, x: np.ndarray) -> float:
    ours = predict_xgb(booster, target, x)
    theirs = onnx_outputs(model, x, PROBABILITY_OUTPUT if target.startswith("tp_") else RANGE_OUTPUT)[:, -1]
    return float(np.max(np.abs(ours - theirs)))


def net_parity(model: onnx.ModelProto, net: nn.Module, x: np.ndarray) -> float:
    return float(np.max(np.abs(predict_net(net, x) - onnx_outputs(model, x, SEQUENCE_OUTPUT))))


def check_parity(name: str, diff: float) -> None:
    if not np.isfinite(diff) or diff >= PARITY_TOLERANCE:
        raise ParityError(
            f"{name}: ONNX Runtime differs from the framework by {diff:.3g} (limit {PARITY_TOLERANCE})"
        )


def next_version(repository: Path, horizon: str) -> str:
    """The version a new training run of `horizon` writes: one above every version already in the
    repository for that horizon's models, so a run never overwrites what is served or committed."""
    numbers = [
        number
        for folder in repository.glob(f"{horizon}_*")
        if (folder / "config.pbtxt").exists()
        for version in folder.iterdir()
        if version.is_dir() and (number := folder_version(version.name)) is not None
    ]
    return str(max(numbers, default=FIRST_VERSION - 1) + 1)


def guard_destination(repository: Path, meta: ModelMetadata) -> None:
    if meta.training.synthetic and repository.resolve() == SHIPPED_REPOSITORY.resolve():
        raise SyntheticModelRefused(
            f"{meta.name} was fit on synthetic data and is never written to the shipped repository "
            f"{repository}"
        )


def write_model(
    repository: Path,
    meta: ModelMetadata,
    model: onnx.ModelProto,
    parity: float,
    native: xgb.Booster | nn.Module,
) -> ModelMetadata:
    """Checks parity, embeds the metadata and writes model.onnx, config.pbtxt and the native model."""
    guard_destination(repository, meta)
    check_parity(meta.name, parity)
    meta = replace(meta, parity_max_abs_diff=parity)
    helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    folder = repository / meta.name
    version_dir = folder / meta.version
    version_dir.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(version_dir / "model.onnx"))
    if isinstance(native, xgb.Booster):
        native.save_model(str(version_dir / "xgb.json"))
    else:
        torch.save(native.state_dict(), version_dir / "torch_state.pt")
    (folder / "config.pbtxt").write_text(triton_config(meta))
    return meta


def triton_config(meta: ModelMetadata) -> str:
    """Triton model configuration (dims exclude the batch dimension, max_batch_size covers it)."""
    n_features = len(meta.feature_names)
    in_dims = [n_features] if meta.window_bars == 1 else [meta.window_bars, n_features]
    out_dims = [2] if meta.output_name == PROBABILITY_OUTPUT else [len(meta.output_columns)]
    if meta.output_name == RANGE_OUTPUT:
        out_dims = [1]
    return (
        f'name: "{meta.name}"\n'
        'platform: "onnxruntime_onnx"\n'
        f"max_batch_size: {TRITON_MAX_BATCH}\n"
        "input [\n"
        f'  {{ name: "{meta.input_name}" data_type: TYPE_FP32 dims: [ {", ".join(map(str, in_dims))} ] }}\n'
        "]\n"
        "output [\n"
        f'  {{ name: "{meta.output_name}" data_type: TYPE_FP32 dims: [ {", ".join(map(str, out_dims))} ] }}\n'
        "]\n"
        "dynamic_batching { max_queue_delay_microseconds: 2000 }\n"
        "version_policy: { latest: { num_versions: 1 } }\n"
    )
