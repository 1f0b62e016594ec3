"""EngineService handlers: translate between protobuf and the engine's state."""

from __future__ import annotations

import grpc

from ml_engine.config import SERVICE_VERSION
from ml_engine.shared.database import MarketStore
from ml_engine.status.domain import LoadedModels, select_methods
from service_runtime.health import overall_status
from service_runtime.metrics import CallStats
from service_runtime.timestamps import now_timestamp, to_timestamp
from trading.ml.v1 import engine_service_pb2 as pb
from trading.ml.v1 import engine_service_pb2_grpc as pb_grpc


class EngineHandlers(pb_grpc.EngineServiceServicer):
    def __init__(
        self, store: MarketStore, stats: CallStats, models: LoadedModels, probe_timeout_s: float
    ) -> None:
        self.store = store
        self.stats = stats
        self.models = models
        self.probe_timeout_s = probe_timeout_s

    async def GetEngineHealth(
        self, request: pb.GetEngineHealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEngineHealthResponse:
        dependencies = [await self.store.probe(self.probe_timeout_s)]
        return pb.GetEngineHealthResponse(
            status=overall_status(dependencies),
            version=SERVICE_VERSION,
            dependencies=dependencies,
            checked_at=now_timestamp(),
        )

    async def GetStats(
        self, request: pb.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStatsResponse:
        methods = self.stats.snapshot()
        chosen = select_methods(methods, request.method_prefix, request.max_methods)
        loaded = self.models.loaded()
        return pb.GetStatsResponse(
            version=SERVICE_VERSION,
            started_at=to_timestamp(self.stats.started_at),
            uptime_seconds=round(self.stats.uptime_seconds, 3),
            # This call counts itself once it finishes, like any other.
            requests_total=sum(c.requests for c in methods.values()),
            methods=[pb.MethodStats(method=name, requests=c.requests, errors=c.errors) for name, c in chosen],
            # Models able to serve; `models` lists every model of the repository with its state.
            models_loaded=sum(1 for m in loaded if m.serving),
            models=[
                pb.LoadedModel(
                    name=m.name,
                    version=m.version,
                    execution_provider=m.execution_provider,
                    state=m.state,
                    requests=m.requests,
                    latency_p50_ms=m.latency_p50_ms,
                    latency_p99_ms=m.latency_p99_ms,
                    mean_batch_size=m.mean_batch_size,
                    max_batch_size=m.max_batch_size,
                    batches=m.batches,
                )
                for m in loaded
            ],
        )
