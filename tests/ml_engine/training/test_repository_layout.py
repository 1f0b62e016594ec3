"""The committed model repository: Triton layout, metadata, configs, cards and the ensemble manifest agree."""

from __future__ import annotations

import re
from pathlib import Path

import onnx
import pytest

from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER, load_manifest
from ml_engine.predictions.domain.features import FEATURE_NAMES, FEATURE_SCHEMA_HASH
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.model_metadata import OUTPUT_COLUMNS
from ml_engine.training.cards import BEATS, DOES_NOT_BEAT
from ml_engine.training.export import SHIPPED_REPOSITORY
from ml_engine.training.pipeline import MODEL_KEYS
from tests.ml_engine.training.repository import model_dirs, onnx_path, read_metadata

TRAINED_HORIZONS = ("intraday", "swing", "position")
FOLDERS = model_dirs()


def _config(folder: Path) -> dict[str, object]:
    text = (folder / "config.pbtxt").read_text()

    def tensor(section: str) -> tuple[str, list[int], str]:
        body = re.search(section + r"\s*\[\s*\{(.*?)\}\s*\]", text, re.S)
        assert body, f"{folder.name}: no {section} in config.pbtxt"
        name = re.search(r'name:\s*"([^"]+)"', body.group(1))
        dims = re.search(r"dims:\s*\[([^\]]*)\]", body.group(1))
        dtype = re.search(r"data_type:\s*(\w+)", body.group(1))
        assert name and dims and dtype
        return name.group(1), [int(d) for d in dims.group(1).split(",")], dtype.group(1)

    platform = re.search(r'platform:\s*"([^"]+)"', text)
    batch = re.search(r"max_batch_size:\s*(\d+)", text)
    model_name = re.search(r'^name:\s*"([^"]+)"', text, re.M)
    return {
        "name": model_name.group(1) if model_name else None,
        "platform": platform.group(1) if platform else None,
        "max_batch_size": int(batch.group(1)) if batch else 0,
        "input": tensor("input"),
        "output": tensor("output"),
        "dynamic_batching": "dynamic_batching" in text,
    }


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str]:
    return [
        d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim
    ]


def test_every_horizon_with_real_data_has_all_its_models_and_scalping_none() -> None:
    names = {f.name for f in FOLDERS}
    expected = {f"{h}_{k}" for h in TRAINED_HORIZONS for k in MODEL_KEYS}
    assert expected <= names
    assert not any(n.startswith("scalping_") for n in names)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_model_folder(folder: Path) -> None:
    path = onnx_path(folder)
    # The newest version: 2 since the calibrated retrain (version 1 stays beside it, activatable).
    assert path.parent.name == "2" and (folder / "1" / "model.onnx").exists()
    model = onnx.load(str(path))
    meta = read_metadata(model)
    assert meta.name == folder.name
    assert meta.version == path.parent.name
    assert meta.feature_schema_hash == FEATURE_SCHEMA_HASH
    assert meta.feature_names == list(FEATURE_NAMES)
    assert meta.horizon in TRAINED_HORIZONS
    horizon = HORIZONS[meta.horizon]
    assert (meta.timeframe, meta.lookahead_bars) == (horizon.timeframe, horizon.lookahead)
    assert not meta.training.synthetic
    assert len(meta.training.sha256) == 64 and meta.training.start < meta.training.end
    assert len(meta.norm_mean) == len(meta.norm_std) == len(FEATURE_NAMES)
    assert set(meta.output_columns) <= set(OUTPUT_COLUMNS)
    assert 0.0 <= meta.parity_max_abs_diff < 1e-4
    # Native model beside the ONNX file.
    native = "xgb.json" if meta.family == "xgboost" else "torch_state.pt"
    assert (path.parent / native).is_file()

    config = _config(folder)
    assert config["name"] == folder.name
    assert config["platform"] == "onnxruntime_onnx"
    assert int(str(config["max_batch_size"])) > 0 and config["dynamic_batching"]
    graph_inputs = {
        i.name: i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}
    }
    graph_outputs = {o.name: o for o in model.graph.output}
    in_name, in_dims, in_type = config["input"]  # type: ignore[misc]
    out_name, out_dims, out_type = config["output"]  # type: ignore[misc]
    assert (in_name, out_name) == (meta.input_name, meta.output_name)
    assert in_type == out_type == "TYPE_FP32"
    assert list(graph_inputs) == [in_name] and out_name in graph_outputs
    # Triton dims leave out the batch dimension, which is dynamic in the graph.
    graph_in = _dims(graph_inputs[in_name])
    graph_out = _dims(graph_outputs[out_name])
    assert graph_in[1:] == in_dims and graph_out[1:] == out_dims
    assert not isinstance(graph_in[0], int) or graph_in[0] == 0  # a named or unset (dynamic) batch dim
    assert in_dims == (
        [len(FEATURE_NAMES)] if meta.window_bars == 1 else [meta.window_bars, len(FEATURE_NAMES)]
    )
    assert max(meta.output_indices) < out_dims[-1]
    assert len(meta.output_indices) == len(meta.output_columns)

    card = (folder / "README.md").read_text()
    assert (BEATS in card) == meta.beats_baseline
    assert (DOES_NOT_BEAT in card) == (not meta.beats_baseline)
    assert meta.training.end in card and "make train" in card


def test_ensemble_members_exist_and_weights_sum_to_one() -> None:
    manifest = load_manifest(SHIPPED_REPOSITORY)
    assert set(manifest) == set(TRAINED_HORIZONS)
    names = {f.name for f in FOLDERS}
    for horizon, ensemble in manifest.items():
        assert set(ensemble.members) == set(OUTPUT_COLUMNS)
        assert ensemble.baseline_high_coef > 0 > ensemble.baseline_low_coef
        for key in ("coverage", "mae_pct", "tp_long_hit_rate", "tp_short_hit_rate", "auc_long", "auc_short"):
            assert key in ensemble.heldout_metrics
        for column, members in ensemble.members.items():
            assert sum(m.weight for m in members) == pytest.approx(1.0)
            for member in members:
                assert member.column == column
                assert member.model == BASELINE_MEMBER or member.model in names
                if member.model != BASELINE_MEMBER:
                    assert member.model.startswith(f"{horizon}_")
