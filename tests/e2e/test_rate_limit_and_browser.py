"""Rate limiting at the edge (a second Envoy with tiny buckets in front of the same
services), on business's routes and the ML engine's, over REST, gRPC and gRPC-Web, and gRPC-Web
from a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import grpc
import httpx
import pytest

from tests.conftest import EDGE, ML_METRICS_PORT, PAGE_ORIGIN, bearer
from tests.e2e import grpc_web
from tests.e2e.edges import extra_edge
from tools.supervisor import ROOT, Stack
from trading.ml.v1 import engine_service_pb2 as ml_pb
from trading.ml.v1 import engine_service_pb2_grpc as ml_grpc
from trading.status.v1 import status_service_pb2 as status_pb
from trading.status.v1 import status_service_pb2_grpc as status_grpc


@pytest.fixture(scope="module")
def tight_edge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Envoy rendered from the same template with every bucket scaled down to one token."""
    with extra_edge(stack, tmp_path_factory.mktemp("tight"), RATE_LIMIT_SCALE="0.0001") as edge:
        yield edge.url


def test_rest_over_the_limit_is_429(tight_edge: str) -> None:
    codes = [httpx.get(f"{tight_edge}/health").status_code for _ in range(5)]
    assert codes[0] == 200
    assert 429 in codes
    limited = httpx.get(f"{tight_edge}/health")
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"


def test_grpc_over_the_limit_is_resource_exhausted(tight_edge: str) -> None:
    with grpc.insecure_channel(tight_edge.removeprefix("http://")) as channel:
        stub = status_grpc.StatusServiceStub(channel)
        codes = []
        for _ in range(5):
            try:
                stub.GetHealth(status_pb.GetHealthRequest(), timeout=5)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes


T = TypeVar("T")


def _burst(call: Callable[[], T], times: int = 5) -> list[T]:
    time.sleep(1.1)  # a full bucket (one token, refilled every second) to start with
    return [call() for _ in range(times)]


def test_ml_rest_routes_are_rate_limited(tight_edge: str, token: str) -> None:
    for path in ("/api/stats", "/api/predict/EURUSD?horizon=intraday"):
        url = f"{tight_edge}{path}"
        replies = _burst(partial(httpx.get, url, headers=bearer(token), timeout=30))
        codes = [reply.status_code for reply in replies]
        assert codes[0] == 200 and 429 in codes, (path, codes)
        limited = replies[codes.index(429)]
        assert limited.headers["x-ratelimit-limited"] == "true"
        assert limited.json() == {
            "error": "rate_limited",
            "message": "too many requests: slow down and try again",
            "details": [],
            "request_id": limited.headers["x-request-id"],
        }


def test_ml_grpc_and_grpc_web_calls_are_rate_limited(tight_edge: str, token: str) -> None:
    metadata = tuple(bearer(token).items())
    with grpc.insecure_channel(tight_edge.removeprefix("http://")) as channel:
        stub = ml_grpc.EngineServiceStub(channel)

        def grpc_call() -> grpc.StatusCode:
            try:
                stub.GetStats(ml_pb.GetStatsRequest(), metadata=metadata, timeout=10)
            except grpc.RpcError as error:
                return error.code()  # type: ignore[no-any-return]
            return grpc.StatusCode.OK

        codes = _burst(grpc_call)
    assert codes[0] == grpc.StatusCode.OK and grpc.StatusCode.RESOURCE_EXHAUSTED in codes, codes
    url = f"{tight_edge}/trading.ml.v1.EngineService/GetStats"
    web = _burst(lambda: grpc_web.call(url, ml_pb.GetStatsRequest(), bearer(token)).grpc_status)
    assert web[0] == 0 and 8 in web, web  # RESOURCE_EXHAUSTED for gRPC-Web too


@pytest.mark.browser
def test_grpc_web_from_a_real_browser(stack: Stack, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is required for the browser test"
    screenshot = tmp_path / "web.png"
    result = subprocess.run(
        [node, "e2e/grpc-web.e2e.mjs"],
        cwd=ROOT / "web",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PAGE_URL": f"{PAGE_ORIGIN}/", "API_ORIGIN": EDGE, "SCREENSHOT": str(screenshot)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert screenshot.stat().st_size > 1000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(screenshot, ROOT / "docs" / "web-status.png")


def test_metrics_endpoint(stack: Stack, token: str) -> None:
    httpx.get(f"{EDGE}/api/stats", headers=bearer(token))
    text = httpx.get(f"http://127.0.0.1:{ML_METRICS_PORT}/metrics").text
    assert 'rpc_server_calls_total{method="/trading.ml.v1.EngineService/GetStats"' in text
