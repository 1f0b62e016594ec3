"""Native gRPC and gRPC-Web through Envoy, reflection, and the ML engine going away."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.conftest import EDGE, ENVOY_PORT, ML_PORT, bearer
from tests.e2e import grpc_web
from tools.supervisor import Stack
from trading.ml.v1 import engine_service_pb2 as ml_pb
from trading.ml.v1 import engine_service_pb2_grpc as ml_grpc
from trading.status.v1 import status_service_pb2 as status_pb
from trading.status.v1 import status_service_pb2_grpc as status_grpc

BUF = str(Path(sys.executable).parent / "buf")


@pytest.fixture
async def edge_channel(stack: Stack) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ENVOY_PORT}") as channel:
        yield channel


async def test_native_grpc_via_envoy(edge_channel: grpc.aio.Channel, token: str) -> None:
    health = await status_grpc.StatusServiceStub(edge_channel).GetHealth(
        status_pb.GetHealthRequest(), timeout=10
    )
    assert health.status == "ok"
    stats = await ml_grpc.EngineServiceStub(edge_channel).GetStats(
        ml_pb.GetStatsRequest(), metadata=tuple(bearer(token).items()), timeout=10
    )
    assert stats.uptime_seconds > 0


async def test_native_grpc_without_token_is_unauthenticated(edge_channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ml_grpc.EngineServiceStub(edge_channel).GetStats(ml_pb.GetStatsRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_invalid_argument_carries_field_violations(edge_channel: grpc.aio.Channel, token: str) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ml_grpc.EngineServiceStub(edge_channel).GetStats(
            ml_pb.GetStatsRequest(max_methods=-1), metadata=tuple(bearer(token).items()), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["max_methods"]


def test_grpc_web_via_envoy(stack: Stack, token: str) -> None:
    reply = grpc_web.call(
        f"{EDGE}/trading.ml.v1.EngineService/GetStats", ml_pb.GetStatsRequest(), bearer(token)
    )
    assert reply.http_status == 200 and reply.grpc_status == 0, reply
    stats = ml_pb.GetStatsResponse.FromString(reply.messages[0])
    assert stats.version


def test_reflection_lists_the_platform_services(stack: Stack, token: str) -> None:
    auth = f"Authorization: Bearer {token}"
    listed = subprocess.run(
        [
            BUF,
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--reflect-header",
            auth,
            "--list-services",
            EDGE,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert {"trading.status.v1.StatusService", "trading.ml.v1.EngineService"} <= set(listed)
    # The grpcurl-style ops call through the edge, schema from reflection.
    called = subprocess.run(
        [
            BUF,
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--reflect-header",
            auth,
            "-H",
            auth,
            f"{EDGE}/trading.ml.v1.EngineService/GetStats",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert '"uptimeSeconds"' in called.stdout


async def test_ml_engine_down_then_back(stack: Stack, token: str, edge_channel: grpc.aio.Channel) -> None:
    stack.children["ml_engine"].kill()
    try:
        rest = httpx.get(f"{EDGE}/api/stats", headers=bearer(token))
        assert rest.status_code == 503
        assert rest.json() == {"error": "ML service unavailable", "message": "Please try again later"}
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ml_grpc.EngineServiceStub(edge_channel).GetStats(
                ml_pb.GetStatsRequest(), metadata=tuple(bearer(token).items()), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        web = grpc_web.call(
            f"{EDGE}/trading.ml.v1.EngineService/GetStats", ml_pb.GetStatsRequest(), bearer(token)
        )
        # gRPC-Web clients read HTTP 503 as UNAVAILABLE; a trailers-only reply says 14.
        assert web.grpc_status == 14 or web.http_status == 503
        health = httpx.get(f"{EDGE}/health").json()
        assert health["status"] == "degraded"
        assert {d["name"]: d["state"] for d in health["dependencies"]}["ml_engine"] == "DEPENDENCY_STATE_DOWN"
    finally:
        stack.start_child("ml_engine")
    # Envoy is not restarted: the next calls succeed on their own.
    deadline = time.monotonic() + 15
    while True:
        reply = httpx.get(f"{EDGE}/api/stats", headers=bearer(token))
        if reply.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply.status_code == 200
    stats = await ml_grpc.EngineServiceStub(edge_channel).GetStats(
        ml_pb.GetStatsRequest(), metadata=tuple(bearer(token).items()), timeout=10
    )
    assert stats.uptime_seconds < 60  # the new process answered
    # business reconnects to the engine by itself too.
    deadline = time.monotonic() + 15
    while httpx.get(f"{EDGE}/health").json()["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(f"{EDGE}/health").json()["status"] == "ok"


def test_direct_service_port_has_health_and_reflection(stack: Stack) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="trading.ml.v1.EngineService"), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    listed = subprocess.run(
        [
            BUF,
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--list-services",
            f"http://127.0.0.1:{ML_PORT}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert "trading.ml.v1.EngineService" in listed and "grpc.health.v1.Health" in listed
