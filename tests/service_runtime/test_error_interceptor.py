"""The error interceptor as a client sees it: a request that does not parse is INVALID_ARGUMENT
naming the field, an unexpected exception is INTERNAL with the request id and nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from ml_engine.status.domain import NoModels
from ml_engine.status.handlers import EngineHandlers
from service_runtime.in_process import serve_in_process
from service_runtime.metrics import CallStats
from service_runtime.request_values import unusable_value
from service_runtime.wire import undecodable_field
from tests.support.in_process import TestCallers, violated_fields
from trading.market.v1 import backtest_service_pb2 as backtest_pb
from trading.ml.v1 import engine_service_pb2 as pb
from trading.ml.v1 import engine_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["EngineService"].full_name
GET_STATS = f"/{SERVICE}/GetStats"
REQUEST_ID = "req-4242"


class BrokenEngine(EngineHandlers):
    """The real handlers, with one method failing the way a bug would."""

    async def GetStats(
        self, request: pb.GetStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStatsResponse:
        raise KeyError("secret-column-name")


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[tuple[grpc.aio.Channel, TestCallers]]:
    callers = TestCallers(tmp_path / "keys")
    stats = CallStats("t")
    handlers = BrokenEngine(None, stats, NoModels(), 1.0)  # type: ignore[arg-type]  # no store needed
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_EngineServiceServicer_to_server(handlers, server)],
        verifier=callers.verifier(),
        stats=stats,
    ) as served:
        yield served.channel, callers


async def call_raw(channel: grpc.aio.Channel, callers: TestCallers, raw: bytes) -> grpc.aio.AioRpcError:
    """GetStats with request bytes as given (no serializer: they go on the wire untouched)."""
    call = channel.unary_unary(GET_STATS, response_deserializer=pb.GetStatsResponse.FromString)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(raw, metadata=(*callers.metadata(), ("x-request-id", REQUEST_ID)))
    return refused.value


async def test_a_request_that_does_not_parse_names_its_field(
    channel: tuple[grpc.aio.Channel, TestCallers],
) -> None:
    served, callers = channel
    # Field 2 (max_methods, an int32 varint) cut short: the parser refuses the message.
    refused = await call_raw(served, callers, b"\x0a\x01/\x10")
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused) == ["max_methods"]
    assert "DecodeError" not in (refused.details() or "") and "class" not in (refused.details() or "")
    # Bytes that are not protobuf at all still name something, never the parser's exception.
    garbage = await call_raw(served, callers, b"\xff\xff\xff")
    assert garbage.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(garbage) == ["request"]


async def test_an_unexpected_error_is_internal_with_the_request_id_only(
    channel: tuple[grpc.aio.Channel, TestCallers], caplog: pytest.LogCaptureFixture
) -> None:
    served, callers = channel
    stub = pb_grpc.EngineServiceStub(served)
    with (
        caplog.at_level(logging.ERROR, logger="service_runtime.rpc"),
        pytest.raises(grpc.aio.AioRpcError) as failed,
    ):
        await stub.GetStats(
            pb.GetStatsRequest(), metadata=(*callers.metadata(), ("x-request-id", REQUEST_ID))
        )
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert failed.value.details() == f"internal error (request id {REQUEST_ID})"
    # The details are in the log, with the traceback, for whoever is quoted the request id.
    logged = [r for r in caplog.records if r.name == "service_runtime.rpc" and r.exc_info]
    assert logged and "secret-column-name" in str(logged[0].exc_info[1])


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        # params = {"x": <a double cut short>}: what Envoy sends for {"params": {"x": {}}}.
        (b"\x0a\x09sma_cross\x32\x04\x0a\x01x\x11", "params.x"),
        # position_size (field 10, a double) with 3 of its 8 bytes.
        (b"\x0a\x09sma_cross\x51\x00\x00\x00", "position_size"),
        (b"\x0a\x09sma_cross\x12\x05GO", "symbol"),
    ],
)
def test_the_culprit_is_found_in_the_wire_format(raw: bytes, field: str) -> None:
    with pytest.raises(Exception, match="Error parsing"):
        backtest_pb.RunBacktestRequest.FromString(raw)
    assert undecodable_field(backtest_pb.RunBacktestRequest.DESCRIPTOR, raw) == field


async def test_a_nul_character_in_a_string_is_refused_naming_the_field(
    channel: tuple[grpc.aio.Channel, TestCallers],
) -> None:
    served, callers = channel
    stub = pb_grpc.EngineServiceStub(served)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetStats(pb.GetStatsRequest(method_prefix="/trading\x00"), metadata=callers.metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == ["method_prefix"]
    with pytest.raises(grpc.aio.AioRpcError) as handled:
        await stub.GetStats(pb.GetStatsRequest(method_prefix="/trading."), metadata=callers.metadata())
    assert handled.value.code() == grpc.StatusCode.INTERNAL  # without the NUL it reaches the (broken) handler


def nul_field(request: Any) -> str | None:
    found = unusable_value(request)
    assert found is None or found[1] == "must not contain NUL characters"
    return found[0] if found else None


def test_nul_fields_are_found_in_maps_lists_and_nested_messages() -> None:
    clean = backtest_pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG", params={"fast": 10})
    assert nul_field(clean) is None
    assert nul_field(backtest_pb.RunBacktestRequest(strategy="sma\x00cross")) == "strategy"
    assert nul_field(backtest_pb.RunBacktestRequest(params={"fa\x00st": 1.0})) == "params"
    sweep = backtest_pb.RunSweepResponse(results=[backtest_pb.SweepResult(), backtest_pb.SweepResult()])
    sweep.results[1].metrics.SetInParent()
    assert nul_field(sweep) is None
    health = pb.GetEngineHealthResponse(dependencies=[{"name": "ok"}, {"name": "db", "detail": "x\x00"}])
    assert nul_field(health) == "dependencies[1].detail"


def test_timestamps_outside_the_types_range_are_named() -> None:
    health = pb.GetEngineHealthResponse(checked_at={"seconds": 253_402_300_799})
    assert unusable_value(health) is None  # 9999-12-31T23:59:59Z, the last valid second
    health.checked_at.seconds = 10**13
    assert unusable_value(health) == ("checked_at", "must be a time between 0001-01-01 and 9999-12-31")
    health.checked_at.seconds, health.checked_at.nanos = 0, -1
    assert unusable_value(health) == ("checked_at", "must be a time between 0001-01-01 and 9999-12-31")
