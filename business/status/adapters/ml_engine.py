"""The business service's client of the ML engine: every call has a deadline."""

from __future__ import annotations

import grpc

from service_runtime.client import outgoing_channel
from service_runtime.errors import DependencyUnavailable
from trading.common.v1 import health_pb2
from trading.ml.v1 import engine_service_pb2 as ml_pb
from trading.ml.v1 import engine_service_pb2_grpc as ml_grpc


class MlEngineClient:
    def __init__(self, target: str, timeout_ms: int) -> None:
        self.target = target
        self.channel = outgoing_channel(target, timeout_ms=timeout_ms)
        self.engine = ml_grpc.EngineServiceStub(self.channel)

    async def health(self, timeout_s: float) -> tuple[str, list[health_pb2.DependencyHealth]]:
        """The engine's verdict and its own dependencies; DependencyUnavailable if unreachable."""
        try:
            reply: ml_pb.GetEngineHealthResponse = await self.engine.GetEngineHealth(
                ml_pb.GetEngineHealthRequest(), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise DependencyUnavailable(f"{error.code().name}: {error.details()}") from error
        return reply.status, list(reply.dependencies)

    async def close(self) -> None:
        await self.channel.close()
