"""StatusService handlers: the platform's health as the business service sees it."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from business.config import SERVICE_VERSION
from business.shared.database import BusinessStore
from business.status.adapters.ml_engine import MlEngineClient
from business.status.adapters.redis import RedisCache
from business.status.domain import gather_health, probe_ml_engine
from service_runtime.health import overall_status
from trading.status.v1 import status_service_pb2 as pb
from trading.status.v1 import status_service_pb2_grpc as pb_grpc


class StatusHandlers(pb_grpc.StatusServiceServicer):
    def __init__(
        self, store: BusinessStore, cache: RedisCache, ml: MlEngineClient, probe_timeout_s: float
    ) -> None:
        self.store = store
        self.cache = cache
        self.ml = ml
        self.probe_timeout_s = probe_timeout_s

    async def GetHealth(
        self, request: pb.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetHealthResponse:
        dependencies = await gather_health(
            [
                self.store.probe(self.probe_timeout_s),
                self.cache.probe(),
                probe_ml_engine(self.ml.target, lambda: self.ml.health(self.probe_timeout_s)),
            ]
        )
        checked_at = Timestamp()
        checked_at.GetCurrentTime()
        return pb.GetHealthResponse(
            status=overall_status(dependencies),
            service="business",
            version=SERVICE_VERSION,
            dependencies=dependencies,
            checked_at=checked_at,
        )
