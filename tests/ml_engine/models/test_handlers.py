"""ModelService handlers over a real registry: listing, card figures, admin activation + audit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ml_engine.models.handlers import ModelHandlers
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.status.handlers import EngineHandlers
from service_runtime.caller import Caller, caller_var
from service_runtime.errors import InvalidArgument, NotFound
from service_runtime.metrics import CallStats
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.tiny_models import write
from trading.ml.v1 import engine_service_pb2
from trading.ml.v1 import model_service_pb2 as pb


@pytest.fixture
async def serving(repo: Path) -> AsyncIterator[tuple[ModelRegistry, VersionActivation]]:
    write(repo, "intraday_xgb_range_high", 1)
    write(repo, "intraday_xgb_range_high", 2)
    write(repo, "intraday_gru", 1, window=4)
    registry, activation = await start_serving(serving_settings(repo))
    yield registry, activation
    await activation.stop()


async def test_list_and_get_models(serving: tuple[ModelRegistry, VersionActivation]) -> None:
    registry, activation = serving
    handlers = ModelHandlers(registry, activation)
    listed = await handlers.ListModels(pb.ListModelsRequest(), None)  # type: ignore[arg-type]
    assert [m.name for m in listed.models] == ["intraday_gru", "intraday_xgb_range_high"]
    assert listed.repository == str(registry.root)
    model = (await handlers.GetModel(pb.GetModelRequest(name="intraday_xgb_range_high"), None)).model  # type: ignore[arg-type]
    assert model.active_version == "2" and model.family == "xgboost" and model.horizon == "intraday"
    assert model.target == "range_tpsl" and model.lookahead_bars == 8 and len(model.feature_names) == 23
    assert model.card_path == "ml_engine/model_repository/intraday_xgb_range_high/README.md"
    v1, v2 = model.versions
    assert v2.state == pb.MODEL_STATE_READY and v2.execution_provider == "CPUExecutionProvider"
    assert (
        v2.intended_provider == "CPUExecutionProvider"
        and len(v2.file_sha256) == 64
        and v2.loaded_at.seconds > 0
    )
    assert (
        v1.state == pb.MODEL_STATE_AVAILABLE and v1.metrics["coverage"] == 0.8
    )  # card figures of an unloaded version
    assert v2.baseline_metrics["mae_pct"] == 0.35 and v2.beats_baseline
    assert v2.training_start.ToJsonString() == "2020-01-01T00:00:00Z" and v2.training_data_sha256 == "0" * 64
    with pytest.raises(NotFound):
        await handlers.GetModel(pb.GetModelRequest(name="nope"), None)  # type: ignore[arg-type]


async def test_activation_is_audited(
    serving: tuple[ModelRegistry, VersionActivation], caplog: pytest.LogCaptureFixture
) -> None:
    handlers = ModelHandlers(*serving)
    caplog.set_level(logging.INFO, logger="ml_engine.audit")
    token = caller_var.set(Caller("admin-7", frozenset({"admin"}), "pro"))
    try:
        reply = await handlers.ActivateModelVersion(
            pb.ActivateModelVersionRequest(name="intraday_xgb_range_high", version="1"),
            None,  # type: ignore[arg-type]
        )
        assert reply.model.active_version == "1"
        with pytest.raises(InvalidArgument) as caught:
            await handlers.ActivateModelVersion(
                pb.ActivateModelVersionRequest(name="intraday_xgb_range_high", version="7"),
                None,  # type: ignore[arg-type]
            )
        assert caught.value.violations[0].field == "version"
        with pytest.raises(NotFound):
            await handlers.ActivateModelVersion(
                pb.ActivateModelVersionRequest(name="nope", version="1"), None
            )  # type: ignore[arg-type]
    finally:
        caller_var.reset(token)
    records = [r.__dict__ for r in caplog.records if r.name == "ml_engine.audit"]
    assert [
        (r["actor"], r["model"], r.get("from_version"), r["to_version"], r["outcome"]) for r in records
    ] == [
        ("admin-7", "intraday_xgb_range_high", "2", "1", "activated"),
        ("admin-7", "intraday_xgb_range_high", "1", "7", "refused"),
        ("admin-7", "nope", None, "1", "refused"),
    ]


async def test_engine_stats_report_per_model_serving_figures(
    serving: tuple[ModelRegistry, VersionActivation],
) -> None:
    import numpy as np

    registry, _ = serving

    for _ in range(3):
        await registry.infer("intraday_gru", np.zeros((1, 4, 23), np.float32))
    engine = EngineHandlers(None, CallStats("t"), registry, 1.0)  # type: ignore[arg-type]
    stats = await engine.GetStats(engine_service_pb2.GetStatsRequest(), None)  # type: ignore[arg-type]
    assert stats.models_loaded == 2
    gru = next(m for m in stats.models if m.name == "intraday_gru")
    assert (gru.version, gru.state, gru.execution_provider) == ("1", "READY", "CPUExecutionProvider")
    assert gru.requests == 3 and gru.batches == 3 and gru.max_batch_size == 1 and gru.latency_p99_ms > 0
