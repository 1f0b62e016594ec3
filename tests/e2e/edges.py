"""A second Envoy in front of the session's services, rendered from the same template with other
settings (tiny rate limits, the default CORS origins, every interface...), its access log
flushed at once so a test can read it."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envoy.binary import envoy_binary
from envoy.render import write
from envoy.settings import EdgeSettings
from tests.support.ports import free_ports
from tools.supervisor import ROOT, Stack, http_ok


@dataclass(frozen=True)
class Edge:
    url: str
    port: int
    log: Path

    def access_log(self, request_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """The access log entry of one request (Envoy writes it once the answer is out)."""
        deadline = time.monotonic() + timeout_s
        while True:
            for line in self.log.read_text().splitlines():
                if line.startswith("{") and request_id in line:
                    entry: dict[str, Any] = json.loads(line)
                    if entry.get("request_id") == request_id:
                        return entry
            assert time.monotonic() < deadline, f"no access log entry for {request_id}"
            time.sleep(0.1)


@contextmanager
def extra_edge(stack: Stack, folder: Path, **settings: str | None) -> Iterator[Edge]:
    """Envoy with the stack's settings, `settings` (environment names) replacing them; None
    drops one, so its default applies."""
    port, admin_port = free_ports(2)
    env = {**stack.env, "ENVOY_PORT": str(port), "ENVOY_ADMIN_PORT": str(admin_port)}
    for name, value in settings.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    config = write(EdgeSettings.from_environment(env), folder / "envoy.json")
    log = folder / "envoy.log"
    with log.open("wb") as out:
        envoy = subprocess.Popen(
            [
                str(envoy_binary()),
                "-c",
                str(config),
                "--base-id",
                str(port),
                "--log-level",
                "warn",
                "--file-flush-interval-msec",
                "100",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not http_ok(f"http://127.0.0.1:{admin_port}/ready"):
            assert envoy.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        yield Edge(f"http://127.0.0.1:{port}", port, log)
    finally:
        envoy.terminate()
        envoy.wait(10)


def non_loopback_address() -> str | None:
    """An address of this host other than loopback (None when it has none): how another host
    would reach it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address
