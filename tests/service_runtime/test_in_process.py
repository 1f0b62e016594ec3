"""serve_in_process: handlers behind the production interceptors, reached through a channel."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from ml_engine.status.domain import NoModels
from ml_engine.status.handlers import EngineHandlers
from service_runtime.in_process import serve_in_process
from service_runtime.metrics import CallStats
from tests.support.in_process import TestCallers, violated_fields
from trading.ml.v1 import engine_service_pb2 as pb
from trading.ml.v1 import engine_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["EngineService"].full_name


async def test_handlers_answer_through_the_interceptors(tmp_path: Path) -> None:
    callers = TestCallers(tmp_path / "keys")
    stats = CallStats("t")
    handlers = EngineHandlers(None, stats, NoModels(), 1.0)  # type: ignore[arg-type]  # GetStats reads no store
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_EngineServiceServicer_to_server(handlers, server)],
        verifier=callers.verifier(),
        stats=stats,
    ) as served:
        stub = pb_grpc.EngineServiceStub(served.channel)
        # The access rule applies: no token, no answer.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetStats(pb.GetStatsRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # Domain errors are mapped with their field violations, as a real client sees them.
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.GetStats(pb.GetStatsRequest(max_methods=5000), metadata=callers.metadata())
        assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(invalid.value) == ["max_methods"]
        reply = await stub.GetStats(pb.GetStatsRequest(), metadata=callers.metadata())
        # The metrics interceptor counted the calls made so far, the refused ones included.
        assert reply.version
        assert stats.snapshot()[f"/{SERVICE}/GetStats"].requests == 3
