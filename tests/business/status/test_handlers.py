"""StatusService through a real server: public, and degraded (not failed) when the ML engine is
unreachable."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from business.shared.database import BusinessStore
from business.status.adapters.ml_engine import MlEngineClient
from business.status.adapters.redis import RedisProbe
from business.status.handlers import StatusHandlers
from service_runtime.in_process import serve_in_process
from tests.support.in_process import TestCallers
from tests.support.ports import free_ports
from trading.common.v1 import health_pb2
from trading.status.v1 import status_service_pb2 as pb
from trading.status.v1 import status_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["StatusService"].full_name


@pytest.fixture
async def channel(store: BusinessStore, tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    # Nothing listens on this port: the engine is down.
    ml = MlEngineClient(f"127.0.0.1:{free_ports(1)[0]}", timeout_ms=1000)
    redis = RedisProbe("")
    handlers = StatusHandlers(store, redis, ml, probe_timeout_s=1.0)
    try:
        async with serve_in_process(
            service_names=[SERVICE],
            registrars=[lambda server: pb_grpc.add_StatusServiceServicer_to_server(handlers, server)],
            verifier=TestCallers(tmp_path / "keys").verifier(),
        ) as served:
            yield served.channel
    finally:
        await ml.close()
        await redis.close()


async def test_health_is_public_and_names_every_dependency(channel: grpc.aio.Channel) -> None:
    before = time.time()
    reply = await pb_grpc.StatusServiceStub(channel).GetHealth(pb.GetHealthRequest())
    states = {d.name: d.state for d in reply.dependencies}
    assert states == {
        "business_db": health_pb2.DEPENDENCY_STATE_UP,
        "redis": health_pb2.DEPENDENCY_STATE_DISABLED,
        "ml_engine": health_pb2.DEPENDENCY_STATE_DOWN,
    }
    assert reply.status == "degraded" and reply.service == "business" and reply.version
    assert before - 1 <= reply.checked_at.ToNanoseconds() / 1e9 <= time.time() + 1
