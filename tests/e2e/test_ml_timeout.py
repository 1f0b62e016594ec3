"""An ML call stalled past ML_SERVICE_TIMEOUT (the seed's validation 3): Envoy answers within
the bound, 504 with the error envelope for REST, DEADLINE_EXCEEDED for gRPC and gRPC-Web, and
the engine serves again once it moves. The engine really stalls: a stack of its own, with a
short timeout, whose ML engine is stopped (SIGSTOP) during the calls."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import bearer, claims, stack_env
from tests.e2e import grpc_web
from tests.support.ports import free_ports
from tools.supervisor import Stack
from trading.ml.v1 import engine_service_pb2 as ml_pb
from trading.ml.v1 import engine_service_pb2_grpc as ml_grpc

TIMEOUT_S = 1.5
# Room for scheduling on a busy 2-core machine: the bound is what is asserted, not the speed.
MARGIN_S = 1.5
PORTS = (
    "ENVOY_PORT",
    "ENVOY_ADMIN_PORT",
    "GATEWAY_PORT",
    "BUSINESS_GRPC_PORT",
    "ML_GRPC_PORT",
    "BUSINESS_METRICS_PORT",
    "ML_METRICS_PORT",
)


@pytest.fixture(scope="module")
def short_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stalled")
    env = stack_env(tmp)
    env.update({name: str(port) for name, port in zip(PORTS, free_ports(len(PORTS)), strict=True)})
    env.update(ML_SERVICE_TIMEOUT=str(int(TIMEOUT_S * 1000)), ML_SCORE_INTERVAL_S="0")
    # Stores of its own: nothing shared with the session's stack.
    env.update(DATABASE_URL=f"sqlite:///{tmp / 'business.db'}", MYSQL_HOST="", REDIS_URL="")
    stack = Stack(env=env, log_dir=tmp / "logs")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def edge(short_stack: Stack) -> str:
    return f"http://127.0.0.1:{short_stack.edge.envoy_port}"


@pytest.fixture(scope="module")
def auth(short_stack: Stack) -> dict[str, str]:
    return bearer(SigningKeyStore(Path(short_stack.env["JWT_KEYS_DIR"])).sign(claims()))


def _stalled(stack: Stack, call: Callable[[], Any]) -> tuple[Any, float]:
    """`call`'s outcome while the ML engine is stopped, and how long it took."""
    process = stack.children["ml_engine"].process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        outcome = call()
        return outcome, time.monotonic() - started
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _within_the_bound(elapsed: float) -> None:
    # Not before the bound (the engine did stall), and not much after it.
    assert TIMEOUT_S - 0.1 <= elapsed <= TIMEOUT_S + MARGIN_S, elapsed


def test_rest_gets_504_with_the_envelope(short_stack: Stack, edge: str, auth: dict[str, str]) -> None:
    reply, elapsed = _stalled(short_stack, lambda: httpx.get(f"{edge}/api/stats", headers=auth, timeout=30))
    _within_the_bound(elapsed)
    assert reply.status_code == 504, reply.text
    assert reply.json() == {
        "error": "deadline_exceeded",
        "message": "the service did not answer in time",
        "details": [],
        "request_id": reply.headers["x-request-id"],
    }


def test_grpc_gets_deadline_exceeded(short_stack: Stack, edge: str, auth: dict[str, str]) -> None:
    def call() -> grpc.RpcError:
        with (
            grpc.insecure_channel(edge.removeprefix("http://")) as channel,
            pytest.raises(grpc.RpcError) as failed,  # the client's own deadline is far off
        ):
            ml_grpc.EngineServiceStub(channel).GetStats(
                ml_pb.GetStatsRequest(), metadata=tuple(auth.items()), timeout=30
            )
        return failed.value

    error, elapsed = _stalled(short_stack, call)
    _within_the_bound(elapsed)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error


def test_grpc_web_gets_deadline_exceeded(short_stack: Stack, edge: str, auth: dict[str, str]) -> None:
    url = f"{edge}/trading.ml.v1.EngineService/GetStats"
    reply, elapsed = _stalled(short_stack, lambda: grpc_web.call(url, ml_pb.GetStatsRequest(), auth))
    _within_the_bound(elapsed)
    assert reply.grpc_status == grpc.StatusCode.DEADLINE_EXCEEDED.value[0], reply


def test_the_engine_serves_again_once_it_moves(short_stack: Stack, edge: str, auth: dict[str, str]) -> None:
    deadline = time.monotonic() + 20
    while (reply := httpx.get(f"{edge}/api/stats", headers=auth, timeout=30)).status_code != 200:
        assert time.monotonic() < deadline, reply.text
        time.sleep(0.5)
