"""Rate limiting at the edge (a second Envoy with tiny buckets in front of the same
services), request ids across services, and gRPC-Web from a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from envoy.binary import envoy_binary
from envoy.render import write
from envoy.settings import EdgeSettings
from tests.conftest import EDGE, ML_METRICS_PORT, PAGE_ORIGIN, bearer
from tests.support.ports import free_ports
from tools.supervisor import ROOT, Stack, http_ok
from trading.status.v1 import status_service_pb2 as status_pb
from trading.status.v1 import status_service_pb2_grpc as status_grpc

TIGHT_PORT, TIGHT_ADMIN_PORT = free_ports(2)


@pytest.fixture(scope="module")
def tight_edge(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Envoy rendered from the same template with every bucket scaled down to one token."""
    env = {
        **stack.env,
        "ENVOY_PORT": str(TIGHT_PORT),
        "ENVOY_ADMIN_PORT": str(TIGHT_ADMIN_PORT),
        "RATE_LIMIT_SCALE": "0.0001",
    }
    edge = EdgeSettings.from_environment(env)
    config = write(edge, tmp_path_factory.mktemp("tight") / "envoy.json")
    envoy = subprocess.Popen(
        [
            str(envoy_binary()),
            "-c",
            str(config),
            "--base-id",
            str(TIGHT_PORT),
            "--log-level",
            "warn",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not http_ok(f"http://127.0.0.1:{TIGHT_ADMIN_PORT}/ready"):
            assert time.monotonic() < deadline, "tight Envoy did not become ready"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{TIGHT_PORT}"
    finally:
        envoy.terminate()
        envoy.wait(10)


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


def test_request_id_follows_the_call_across_services(stack: Stack) -> None:
    request_id = "e2e-" + os.urandom(6).hex()
    assert httpx.get(f"{EDGE}/health", headers={"x-request-id": request_id}).status_code == 200
    assert stack.log_dir is not None
    time.sleep(0.3)  # let the services flush their log lines
    for service in ("business", "ml_engine"):
        log = (stack.log_dir / f"{service}.log").read_text()
        assert f'"request_id": "{request_id}"' in log, service


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
