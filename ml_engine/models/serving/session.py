"""One ONNX Runtime session per loaded model version: provider choice and read-back, metadata
and feature-schema checks, warm-up, and the READY / DEGRADED decision.

CUDA can fall back to CPU silently (onnxruntime-gpu lists CUDA even where it cannot load it),
so the provider in use is always read back from the session, never assumed."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.errors import ModelLoadError
from ml_engine.models.serving.repository import VersionFile, file_sha256
from ml_engine.predictions.domain.features import FEATURE_SCHEMA_HASH
from ml_engine.predictions.domain.model_metadata import METADATA_KEY, OUTPUT_COLUMNS, ModelMetadata

log = logging.getLogger("ml_engine.serving")

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

# ONNX tensor element types serving can hand out (KServe datatypes next to them).
_NUMPY_OF_ONNX: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(bool)": np.dtype(np.bool_),
}


class ModelState(StrEnum):
    """ModelState of model_service.proto without its prefix."""

    AVAILABLE = "AVAILABLE"
    LOADING = "LOADING"
    READY = "READY"
    DEGRADED = "DEGRADED"
    FAILED = "FAILED"


SERVING_STATES = (ModelState.READY, ModelState.DEGRADED)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    # None for a non-tensor value (a ZipMap's sequence of maps): not exposed over KServe.
    dtype: np.dtype[Any] | None
    # -1 for a dynamic dimension.
    shape: tuple[int, ...]


def choose_providers(setting: str, available: Sequence[str]) -> tuple[str, list[str]]:
    """(intended provider, providers to ask the session for) for ML_EXECUTION_PROVIDER."""
    if setting == "cpu":
        return CPU, [CPU]
    if setting == "cuda" or (setting == "auto" and CUDA in available):
        # Asked for CUDA: if this onnxruntime cannot even offer it, the session runs on CPU and
        # the read-back below reports the deployment DEGRADED.
        return CUDA, [CUDA, CPU] if CUDA in available else [CPU]
    return CPU, [CPU]


def provider_state(intended: str, in_use: Sequence[str]) -> tuple[ModelState, str]:
    """READY when the session's first provider is the intended one, else DEGRADED with why."""
    actual = in_use[0] if in_use else "none"
    if actual == intended:
        return ModelState.READY, ""
    return ModelState.DEGRADED, (
        f"intended execution provider {intended} did not load; the session runs on {actual} "
        f"(providers in use: {', '.join(in_use) or 'none'})"
    )


def read_metadata(session: ort.InferenceSession) -> ModelMetadata:
    props: dict[str, str] = session.get_modelmeta().custom_metadata_map
    text = props.get(METADATA_KEY)
    if text is None:
        raise ModelLoadError(f"model.onnx carries no {METADATA_KEY!r} metadata")
    try:
        return ModelMetadata.from_json(text)
    except (ValueError, TypeError, KeyError) as error:
        raise ModelLoadError(f"unreadable {METADATA_KEY!r} metadata: {error}") from None


def _tensor_info(arg: Any) -> TensorInfo:
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or ()))
    dtype: np.dtype[Any] | None = _NUMPY_OF_ONNX.get(str(arg.type))
    return TensorInfo(str(arg.name), dtype, shape)


def input_shape(meta: ModelMetadata, rows: int) -> tuple[int, ...]:
    features = len(meta.feature_names)
    return (rows, features) if meta.window_bars <= 1 else (rows, meta.window_bars, features)


class ModelSession:
    """A warmed-up session of one version. `run` is thread-safe (ONNX Runtime sessions are)."""

    def __init__(
        self,
        *,
        name: str,
        version: int,
        path: Path,
        session: ort.InferenceSession,
        metadata: ModelMetadata,
        file_sha256: str,
        intended_provider: str,
        provider: str,
        state: ModelState,
        reason: str,
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        self.session = session
        self.metadata = metadata
        self.file_sha256 = file_sha256
        self.intended_provider = intended_provider
        self.provider = provider
        self.state = state
        self.reason = reason
        self.loaded_at = time.time()
        self.inputs = [_tensor_info(i) for i in session.get_inputs()]
        self.outputs = [_tensor_info(o) for o in session.get_outputs()]
        self._columns = list(metadata.output_indices)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Model outputs for `x` (already normalized), float64 [n, len(metadata.output_columns)]."""
        out = np.asarray(self.session.run([self.metadata.output_name], {self.metadata.input_name: x})[0])
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        return np.asarray(out[:, self._columns], dtype=np.float64)

    def run_raw(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
        """The named ONNX outputs as the model produces them (the KServe v2 view)."""
        return [np.asarray(o) for o in self.session.run(outputs, feeds)]


def _check_metadata(name: str, meta: ModelMetadata, session: ort.InferenceSession) -> None:
    if meta.feature_schema_hash != FEATURE_SCHEMA_HASH:
        raise ModelLoadError(
            f"feature schema hash {meta.feature_schema_hash[:12]} differs from this engine's "
            f"{FEATURE_SCHEMA_HASH[:12]}: the model reads other features; retrain it"
        )
    unknown = [c for c in meta.output_columns if c not in OUTPUT_COLUMNS]
    if unknown or len(meta.output_columns) != len(meta.output_indices) or not meta.output_columns:
        raise ModelLoadError(
            f"output columns {meta.output_columns} / indices {meta.output_indices} are inconsistent"
        )
    if len(meta.norm_mean) != len(meta.feature_names) or len(meta.norm_std) != len(meta.feature_names):
        raise ModelLoadError("normalization does not have one mean and one std per feature")
    if meta.input_name not in {i.name for i in session.get_inputs()}:
        raise ModelLoadError(f"the graph has no input {meta.input_name!r}")
    if meta.output_name not in {o.name for o in session.get_outputs()}:
        raise ModelLoadError(f"the graph has no output {meta.output_name!r}")
    if meta.name != name:
        log.warning("model metadata names another model", extra={"model": name, "metadata_name": meta.name})


def session_options(intra_op_threads: int, *, optimize: bool = True) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    return options


def peek_metadata(path: Path) -> ModelMetadata:
    """A version's metadata without warming it up (for listing versions that are not loaded)."""
    try:
        session = ort.InferenceSession(str(path), session_options(1, optimize=False), providers=[CPU])
    except Exception as error:  # ONNX Runtime raises its own exception types for bad files
        raise ModelLoadError(f"ONNX Runtime cannot open {path.name}: {error}") from None
    return read_metadata(session)


def load_session(name: str, file: VersionFile, settings: MlEngineSettings) -> ModelSession:
    """Create, check and warm up a session; raises ModelLoadError with the FAILED reason."""
    intended, providers = choose_providers(settings.ml_execution_provider, ort.get_available_providers())
    try:
        sha = file_sha256(file.path)
    except OSError as error:  # unreadable, gone, or a folder named model.onnx: this version cannot serve
        raise ModelLoadError(f"cannot read {file.path.name}: {error.strerror or error}") from None
    try:
        options = session_options(settings.ml_intra_op_threads)
        session = ort.InferenceSession(str(file.path), options, providers=providers)
    except Exception as error:  # ONNX Runtime raises its own exception types for bad files
        raise ModelLoadError(f"ONNX Runtime cannot load {file.path.name}: {error}") from None
    meta = read_metadata(session)
    _check_metadata(name, meta, session)
    state, reason = provider_state(intended, session.get_providers())
    loaded = ModelSession(
        name=name,
        version=file.version,
        path=file.path,
        session=session,
        metadata=meta,
        file_sha256=sha,
        intended_provider=intended,
        provider=session.get_providers()[0],
        state=ModelState.LOADING,
        reason="",
    )
    started = time.perf_counter()
    for rows in sorted({1, settings.ml_batch_max_size}):
        x = np.zeros(input_shape(meta, rows), dtype=np.float32)
        for _ in range(settings.ml_warmup_runs):
            try:
                values = loaded.run(x)
            except Exception as error:  # a graph that cannot run its own declared input
                raise ModelLoadError(f"warm-up at batch {rows} failed: {error}") from None
            if values.shape != (rows, len(meta.output_columns)):
                raise ModelLoadError(
                    f"warm-up at batch {rows} gave shape {values.shape}, expected "
                    f"({rows}, {len(meta.output_columns)})"
                )
    # Only now, with the provider read back and warm-up done, may the version serve.
    loaded.state, loaded.reason = state, reason
    details = {
        "model": name,
        "version": file.version,
        "provider": loaded.provider,
        "intended": intended,
        "warmup_ms": round((time.perf_counter() - started) * 1000, 3),
        "sha256": sha,
    }
    if state is ModelState.DEGRADED:
        log.error("model DEGRADED: %s", reason, extra=details)
    else:
        log.info("model ready", extra=details)
    return loaded
