"""Local process supervisor: `make run` (`python -m tools.supervisor`, from the repo root)
starts ml_engine, business, gateway and Envoy, waits until every health check passes, prints the
URLs, and on Ctrl-C/SIGTERM stops them all (Envoy first, so no new traffic reaches a stopping
service). Children also die with the supervisor if it is killed outright (PR_SET_PDEATHSIG), so
nothing is left orphaned.

Tests and benchmarks drive the same `Stack` class to run the real system.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from envoy.binary import envoy_binary
from envoy.render import write
from envoy.settings import EdgeSettings
from service_runtime.defaults import LOOPBACK

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the supervisor goes away."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def grpc_serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@dataclass
class Child:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str], log: IO[bytes] | None) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Abrupt death (SIGKILL), as a crash would look."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()


@dataclass
class Stack:
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    log_dir: Path | None = None
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The stack's own environment decides its ports (tests pass theirs in `env`).
        self.edge = edge = EdgeSettings.from_environment(self.env)
        # Envoy runs from the repo root (`cwd` below), where the config's relative paths lead.
        self.envoy_config = write(edge, ROOT / "build" / "envoy" / f"envoy-{edge.envoy_port}.json")
        py = sys.executable
        self.urls = {
            "web app": f"http://{LOOPBACK}:{edge.gateway.port}/",
            "REST/gRPC-Web/gRPC (Envoy)": f"http://{LOOPBACK}:{edge.envoy_port}",
            "health": f"http://{LOOPBACK}:{edge.envoy_port}/health",
            "API docs": f"http://{LOOPBACK}:{edge.envoy_port}/api/docs",
        }
        business = f"{edge.business.host}:{edge.business.port}"
        ml = f"{edge.ml_engine.host}:{edge.ml_engine.port}"
        # business reaches the ML engine wherever this stack put it.
        self.env.setdefault("ML_SERVICE_URL", ml)
        gateway_url = f"http://{edge.gateway.host}:{edge.gateway.port}"
        admin = f"http://{LOOPBACK}:{edge.envoy_admin_port}"
        for child in (
            Child("ml_engine", [py, "-m", "ml_engine.main"], lambda: grpc_serving(ml)),
            Child("business", [py, "-m", "business.main"], lambda: grpc_serving(business)),
            Child("gateway", [py, "-m", "gateway"], lambda: http_ok(f"{gateway_url}/healthz")),
            Child(
                "envoy",
                [
                    str(envoy_binary()),
                    "-c",
                    str(self.envoy_config),
                    "--log-level",
                    "warn",
                    "--base-id",
                    str(edge.envoy_port),
                    "--drain-time-s",
                    "2",
                ],
                lambda: http_ok(f"{admin}/ready"),
            ),
        ):
            self.children[child.name] = child

    def _log(self, name: str) -> IO[bytes] | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{name}.log", "ab")

    def start_child(self, name: str, timeout_s: float = 60.0) -> None:
        child = self.children[name]
        child.start(self.env, self._log(name))
        self.wait_ready([name], timeout_s)

    def wait_ready(self, names: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(names)
        while pending:
            for name in list(pending):
                child = self.children[name]
                if not child.running:
                    code = child.process.returncode if child.process else None
                    raise RuntimeError(f"{name} exited during start-up (exit code {code})")
                if child.ready():
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {timeout_s:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.1)

    def start(self, timeout_s: float = 90.0) -> None:
        try:
            for child in self.children.values():
                child.start(self.env, self._log(child.name))
            self.wait_ready(list(self.children), timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # Edge first, then the services that depend on others, then the rest.
        for name in ("envoy", "gateway", "business", "ml_engine"):
            self.children[name].stop()


def main() -> None:
    env = dict(os.environ)
    # A local run on embedded defaults mints demo tokens for the web page.
    env.setdefault("DEV_TOKENS_ENABLED", "true")
    stack = Stack(env=env)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print("starting ml_engine, business, gateway and envoy ...", flush=True)
    stack.start()
    width = max(len(k) for k in stack.urls)
    print("\nall services healthy:", flush=True)
    for label, url in stack.urls.items():
        print(f"  {label:<{width}}  {url}", flush=True)
    print("\nCtrl-C stops everything.", flush=True)
    try:
        while not stopping:
            for child in stack.children.values():
                if not child.running:
                    print(f"{child.name} exited unexpectedly; stopping", flush=True)
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
