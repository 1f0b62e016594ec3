"""EngineService handlers through an in-process server: per-model serving figures in GetStats and
the public engine health."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from ml_engine.shared.database import MarketStore
from ml_engine.status.domain import NoModels
from ml_engine.status.handlers import EngineHandlers
from service_runtime.metrics import CallStats
from service_runtime.server import Registrar
from tests.ml_engine.in_process import serve
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.tiny_models import write
from tests.support.in_process import TestCallers
from trading.common.v1 import health_pb2
from trading.ml.v1 import engine_service_pb2 as pb
from trading.ml.v1 import engine_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["EngineService"].full_name


def register(handlers: EngineHandlers) -> Registrar:
    return lambda server: pb_grpc.add_EngineServiceServicer_to_server(handlers, server)


async def test_engine_stats_report_per_model_serving_figures(tmp_path: Path, callers: TestCallers) -> None:
    repo = tmp_path / "models"
    write(repo, "intraday_xgb_range_high", 1)
    write(repo, "intraday_xgb_range_high", 2)
    write(repo, "intraday_gru", 1, window=4)
    registry, activation = await start_serving(serving_settings(repo))
    try:
        for _ in range(3):
            await registry.infer("intraday_gru", np.zeros((1, 4, 23), np.float32))
        engine = EngineHandlers(None, CallStats("t"), registry, 1.0)  # type: ignore[arg-type]  # GetStats reads no store
        async with serve(SERVICE, register(engine), callers) as channel:
            stats = await pb_grpc.EngineServiceStub(channel).GetStats(
                pb.GetStatsRequest(), metadata=callers.metadata()
            )
    finally:
        await activation.stop()
    assert stats.models_loaded == 2
    gru = next(m for m in stats.models if m.name == "intraday_gru")
    assert (gru.version, gru.state, gru.execution_provider) == ("1", "READY", "CPUExecutionProvider")
    assert gru.requests == 3 and gru.batches == 3 and gru.max_batch_size == 1 and gru.latency_p99_ms > 0


async def test_engine_health_is_public_and_probes_the_store(
    market_store: MarketStore, callers: TestCallers
) -> None:
    engine = EngineHandlers(market_store, CallStats("t"), NoModels(), 1.0)
    async with serve(SERVICE, register(engine), callers) as channel:
        stub = pb_grpc.EngineServiceStub(channel)
        health = await stub.GetEngineHealth(pb.GetEngineHealthRequest())  # no token: a probe
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.GetStats(pb.GetStatsRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert health.status == "ok" and health.version
    assert [d.name for d in health.dependencies] == ["market_db"]
    assert health.dependencies[0].state == health_pb2.DEPENDENCY_STATE_UP
    assert health.checked_at.seconds > 0
