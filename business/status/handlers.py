"""StatusService handlers: the platform's health as the business service sees it."""

from __future__ import annotations

from business.config import SERVICE_VERSION
from business.shared.database import BusinessStore
from business.shared.proto_mapping import Context
from business.status.adapters.ml_engine import MlEngineClient
from business.status.adapters.redis import RedisProbe
from business.status.domain import gather_health
from service_runtime.health import overall_status
from service_runtime.timestamps import now_timestamp
from trading.status.v1 import status_service_pb2 as pb
from trading.status.v1 import status_service_pb2_grpc as pb_grpc


class StatusHandlers(pb_grpc.StatusServiceServicer):
    def __init__(
        self, store: BusinessStore, redis: RedisProbe, ml: MlEngineClient, probe_timeout_s: float
    ) -> None:
        self.store = store
        self.redis = redis
        self.ml = ml
        self.probe_timeout_s = probe_timeout_s

    async def GetHealth(self, request: pb.GetHealthRequest, context: Context) -> pb.GetHealthResponse:
        dependencies = await gather_health(
            self.store.probe(self.probe_timeout_s), self.redis.probe(), self.ml.probe(self.probe_timeout_s)
        )
        return pb.GetHealthResponse(
            status=overall_status(dependencies),
            service="business",
            version=SERVICE_VERSION,
            dependencies=dependencies,
            checked_at=now_timestamp(),
        )
