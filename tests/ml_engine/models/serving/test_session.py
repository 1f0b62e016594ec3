"""ONNX Runtime sessions: provider choice and read-back, READY only after warm-up, refusals."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ml_engine.models.serving import session as session_module
from ml_engine.models.serving.errors import ModelLoadError
from ml_engine.models.serving.repository import scan
from ml_engine.models.serving.session import (
    CPU,
    CUDA,
    ModelSession,
    ModelState,
    choose_providers,
    load_session,
    provider_state,
)
from tests.ml_engine.models.conftest import serving_settings
from tests.ml_engine.models.serving.tiny_models import expected, metadata, write


def test_provider_choice() -> None:
    assert choose_providers("auto", [CUDA, CPU]) == (CUDA, [CUDA, CPU])
    assert choose_providers("auto", [CPU]) == (CPU, [CPU])
    assert choose_providers("cpu", [CUDA, CPU]) == (CPU, [CPU])
    # Asked for CUDA on an onnxruntime without it: intended stays CUDA so the fallback shows.
    assert choose_providers("cuda", ["AzureExecutionProvider", CPU]) == (CUDA, [CPU])


def test_degraded_when_the_intended_provider_is_not_in_use() -> None:
    assert provider_state(CUDA, [CUDA, CPU]) == (ModelState.READY, "")
    assert provider_state(CPU, [CPU]) == (ModelState.READY, "")
    state, reason = provider_state(CUDA, [CPU])
    assert state is ModelState.DEGRADED
    assert "CUDAExecutionProvider" in reason and "CPUExecutionProvider" in reason


def test_session_reads_its_provider_back_and_is_ready_only_after_warm_up(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "m", 1)
    settings = serving_settings(repo, ml_warmup_runs=3, ml_batch_max_size=8)
    seen: list[tuple[ModelState, int]] = []
    original = ModelSession.run

    def spy(self: ModelSession, x: np.ndarray) -> np.ndarray:
        seen.append((self.state, len(x)))
        return original(self, x)

    monkeypatch.setattr(ModelSession, "run", spy)
    loaded = load_session("m", scan(repo)["m"].versions[0], settings)
    # Warm-up: 3 runs at batch 1 and 3 at the max batch, all before the state left LOADING.
    assert seen == [(ModelState.LOADING, 1)] * 3 + [(ModelState.LOADING, 8)] * 3
    assert loaded.state is ModelState.READY and loaded.reason == ""
    assert loaded.provider == loaded.session.get_providers()[0] == CPU
    assert loaded.intended_provider == CPU
    assert len(loaded.file_sha256) == 64
    x = np.random.default_rng(1).normal(size=(5, 23)).astype(np.float32)
    np.testing.assert_allclose(loaded.run(x), expected(x, 1), rtol=1e-5, atol=1e-5)


def test_cuda_asked_on_a_cpu_only_runtime_is_degraded_and_says_so_loudly(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(repo, "m", 1)
    caplog.set_level(logging.ERROR, logger="ml_engine.serving")
    loaded = load_session(
        "m", scan(repo)["m"].versions[0], serving_settings(repo, ml_execution_provider="cuda")
    )
    assert loaded.intended_provider == CUDA and loaded.provider == CPU
    assert loaded.state is ModelState.DEGRADED and "CUDAExecutionProvider did not load" in loaded.reason
    assert any(r.levelno == logging.ERROR and "DEGRADED" in r.getMessage() for r in caplog.records)


def test_a_model_with_another_feature_schema_is_refused(repo: Path) -> None:
    write(repo, "m", 1, meta=replace(metadata("m", 1), feature_schema_hash="f" * 64))
    with pytest.raises(ModelLoadError, match="feature schema hash"):
        load_session("m", scan(repo)["m"].versions[0], serving_settings(repo))


def test_a_model_without_metadata_is_refused(repo: Path) -> None:
    write(repo, "m", 1, bare=True)
    with pytest.raises(ModelLoadError, match=r"trading\.model"):
        load_session("m", scan(repo)["m"].versions[0], serving_settings(repo))


def test_a_model_whose_metadata_names_a_missing_input_is_refused(repo: Path) -> None:
    write(repo, "m", 1, meta=replace(metadata("m", 1), input_name="nope"))
    with pytest.raises(ModelLoadError, match="no input 'nope'"):
        load_session("m", scan(repo)["m"].versions[0], serving_settings(repo))


def test_a_file_that_is_not_onnx_is_refused(repo: Path) -> None:
    (repo / "m" / "1").mkdir(parents=True)
    (repo / "m" / "1" / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_session("m", scan(repo)["m"].versions[0], serving_settings(repo))


def test_repository_scan_follows_the_triton_layout(repo: Path) -> None:
    write(repo, "a", 1)
    write(repo, "a", 10)
    write(repo, "a", 2)
    (repo / "a" / "config.pbtxt").write_text('name: "a"\nbackend: "onnxruntime"\n')
    (repo / "a" / "notes").mkdir()
    (repo / "empty").mkdir()
    (repo / "ensembles.json").write_text("{}")
    models = scan(repo)
    assert list(models) == ["a"]
    assert [v.version for v in models["a"].versions] == [1, 2, 10]
    assert session_module.CPU == "CPUExecutionProvider"
