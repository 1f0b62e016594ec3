"""The committed model repository (written by `make train`) loads and serves: every model READY
on the CPU after warm-up, real metadata, and the registry's answers equal a direct ONNX Runtime run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ml_engine.models.serving.session import ModelState, input_shape
from ml_engine.predictions.domain.features import FEATURE_SCHEMA_HASH
from tests.ml_engine.models.conftest import serving_settings, start_serving

REPOSITORY = Path(__file__).resolve().parents[4] / "ml_engine" / "model_repository"


async def test_every_committed_model_serves_and_matches_onnx_runtime() -> None:
    registry, activation = await start_serving(serving_settings(REPOSITORY))
    try:
        entries = registry.models()
        assert entries, f"no model in {REPOSITORY}: run `make train`"
        assert registry.ready()
        rng = np.random.default_rng(0)
        for entry in entries:
            assert entry.state is ModelState.READY, (entry.name, entry.reason)
            assert entry.execution_provider == "CPUExecutionProvider"
            assert (REPOSITORY / entry.name / "README.md").is_file(), f"{entry.name} has no model card"
            assert (REPOSITORY / entry.name / "config.pbtxt").is_file(), f"{entry.name} has no config.pbtxt"
            meta = registry.metadata(entry.name)
            assert meta.name == entry.name and meta.feature_schema_hash == FEATURE_SCHEMA_HASH
            assert not meta.training.synthetic, f"{entry.name} was trained on synthetic data"
            x = rng.normal(size=input_shape(meta, 7)).astype(np.float32)
            served = registry.infer_sync(entry.name, x)
            assert served.values.shape == (7, len(meta.output_columns))
            path = REPOSITORY / entry.name / entry.active_version / "model.onnx"
            raw = np.asarray(
                ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
                    [meta.output_name], {meta.input_name: x}
                )[0]
            )
            direct = raw.reshape(len(x), -1)[:, meta.output_indices]
            np.testing.assert_allclose(served.values, direct, rtol=1e-6, atol=1e-6)
            batched = await registry.infer(entry.name, x[:1])
            np.testing.assert_allclose(batched.values, direct[:1], rtol=1e-6, atol=1e-6)
    finally:
        await activation.stop()
