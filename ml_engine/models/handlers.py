"""ModelService handlers: the model repository as the registry sees it, and version switches."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import grpc

from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import ModelEntry, ModelRegistry, VersionStatus
from ml_engine.models.serving.session import ModelState
from ml_engine.predictions.domain.model_metadata import ModelMetadata
from ml_engine.shared.audit import AuditRecord, audited
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_timestamp
from trading.ml.v1 import model_service_pb2 as pb
from trading.ml.v1 import model_service_pb2_grpc as pb_grpc

_STATE = {
    ModelState.AVAILABLE: pb.MODEL_STATE_AVAILABLE,
    ModelState.LOADING: pb.MODEL_STATE_LOADING,
    ModelState.READY: pb.MODEL_STATE_READY,
    ModelState.DEGRADED: pb.MODEL_STATE_DEGRADED,
    ModelState.FAILED: pb.MODEL_STATE_FAILED,
}
_TARGETS = {
    ("range_high_pct",): "range_high",
    ("range_low_pct",): "range_low",
    ("tp_long",): "tp_long",
    ("tp_short",): "tp_short",
    ("range_high_pct", "range_low_pct"): "range",
    ("tp_long", "tp_short"): "tpsl",
    ("range_high_pct", "range_low_pct", "tp_long", "tp_short"): "range_tpsl",
}
CARD_FOLDER = "ml_engine/model_repository"
# The most of a model card GetModel returns (bytes of UTF-8).
CARD_MAX_BYTES = 64 * 1024


def target_of(meta: ModelMetadata) -> str:
    return _TARGETS.get(tuple(meta.output_columns), "+".join(meta.output_columns))


def _moment(text: str) -> datetime | None:
    """A metadata time (ISO 8601, "Z" or an offset; none: UTC), or None when empty or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def version_info(status: VersionStatus) -> pb.ModelVersion:
    version = pb.ModelVersion(
        version=status.version,
        state=_STATE[status.state],
        reason=status.reason,
        intended_provider=status.intended_provider,
        execution_provider=status.execution_provider,
        file_sha256=status.file_sha256,
        loaded_at=to_timestamp(status.loaded_at) if status.loaded_at is not None else None,
    )
    meta = status.metadata
    if meta is not None:
        version.feature_schema_hash = meta.feature_schema_hash
        for name, text in (
            ("trained_at", meta.trained_at),
            ("training_start", meta.training.start),
            ("training_end", meta.training.end),
        ):
            moment = _moment(text)
            if moment is not None:
                getattr(version, name).CopyFrom(to_timestamp(moment))
        version.training_data_sha256 = meta.training.sha256
        version.metrics.update(meta.metrics)
        version.baseline_metrics.update(meta.baseline_metrics)
        version.beats_baseline = meta.beats_baseline
    return version


def model_info(entry: ModelEntry) -> pb.ModelInfo:
    info = pb.ModelInfo(
        name=entry.name,
        active_version=entry.active_version,
        versions=[version_info(v) for v in entry.versions],
        card_path=f"{CARD_FOLDER}/{entry.name}/README.md",
    )
    meta = entry.metadata
    if meta is not None:
        info.family = meta.family
        info.target = target_of(meta)
        info.horizon = meta.horizon
        info.timeframe = meta.timeframe
        info.lookahead_bars = meta.lookahead_bars
        info.window_bars = meta.window_bars
        info.feature_names.extend(meta.feature_names)
    return info


def read_card(path: Path, limit: int = CARD_MAX_BYTES) -> tuple[str, bool]:
    """The card's Markdown (at most `limit` bytes, cut on a character) and whether it was cut;
    ("", False) when the model has no card."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return "", False
    cut = len(data) > limit
    # A cut can split a character: drop the partial one rather than showing a replacement mark.
    return data[:limit].decode("utf-8", errors="ignore" if cut else "replace"), cut


class ModelHandlers(pb_grpc.ModelServiceServicer):
    def __init__(self, registry: ModelRegistry, activation: VersionActivation) -> None:
        self.registry = registry
        self.activation = activation

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(
            models=[model_info(e) for e in self.registry.models()], repository=str(self.registry.root)
        )

    async def GetModel(
        self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelResponse:
        if not request.name:
            raise InvalidArgument.field("name", "is required")
        entry = self.registry.entry(request.name)  # NotFound unless a model of the registry: a safe path
        markdown, truncated = await asyncio.to_thread(
            read_card, self.registry.root / entry.name / "README.md"
        )
        return pb.GetModelResponse(model=model_info(entry), card_markdown=markdown, card_truncated=truncated)

    async def ActivateModelVersion(
        self, request: pb.ActivateModelVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ActivateModelVersionResponse:
        record: AuditRecord = {
            "actor": current_caller().subject,
            "action": "activate_model_version",
            "model": request.name,
            "to_version": request.version,
        }
        # The activation and its audit entry run to the end even if this call is cancelled (client
        # gone, Envoy's route timeout): a version that took effect is always audited.
        entry = await self.activation.run_to_end(self._activate(request, record))
        return pb.ActivateModelVersionResponse(model=model_info(entry))

    async def _activate(self, request: pb.ActivateModelVersionRequest, record: AuditRecord) -> ModelEntry:
        with audited(record):
            if not request.name:
                raise InvalidArgument.field("name", "is required")
            if not request.version:
                raise InvalidArgument.field("version", "is required")
            record["from_version"] = self.registry.entry(request.name).active_version
            entry = await self.activation.activate(request.name, request.version)
            record |= {"outcome": "activated", "state": entry.state.value}
        return entry
