"""The business service's client of the ML engine: every call has a deadline."""

from __future__ import annotations

import grpc

from business.status.domain import nested_under
from service_runtime.client import outgoing_channel
from service_runtime.errors import DependencyUnavailable
from service_runtime.health import timed_probe
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
            # wait_for_ready: a channel still in its reconnect back-off (business's feeds dialled
            # the engine before it listened) would otherwise fail at once though the engine is up;
            # the probe's deadline still bounds the wait when it is really down.
            reply: ml_pb.GetEngineHealthResponse = await self.engine.GetEngineHealth(
                ml_pb.GetEngineHealthRequest(), timeout=timeout_s, wait_for_ready=True
            )
        except grpc.aio.AioRpcError as error:
            raise DependencyUnavailable(f"{error.code().name}: {error.details()}") from error
        return reply.status, list(reply.dependencies)

    async def probe(self, timeout_s: float) -> list[health_pb2.DependencyHealth]:
        """`ml_engine` itself, then its dependencies as `ml_engine.<name>` (only when it answered)."""
        nested: list[health_pb2.DependencyHealth] = []

        async def ask() -> str:
            status, dependencies = await self.health(timeout_s)
            nested.extend(dependencies)
            return f"{self.target} ({status})"

        own = await timed_probe("ml_engine", ask)
        return nested_under("ml_engine", own, nested)

    async def close(self) -> None:
        await self.channel.close()
