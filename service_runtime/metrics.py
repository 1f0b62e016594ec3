"""Per-method call counters: exported to Prometheus and readable in-process (for GetStats)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from prometheus_client import Counter, Histogram, start_http_server

RPC_CALLS = Counter("rpc_server_calls_total", "RPCs handled", ["service", "method", "outcome"])
RPC_LATENCY = Histogram(
    "rpc_server_duration_seconds",
    "RPC handling time",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


@dataclass
class MethodCounters:
    requests: int = 0
    errors: int = 0


class CallStats:
    """Counts calls per method since the process started."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._methods: dict[str, MethodCounters] = {}

    def record(self, method: str, seconds: float, *, failed: bool) -> None:
        with self._lock:
            counters = self._methods.setdefault(method, MethodCounters())
            counters.requests += 1
            counters.errors += int(failed)
        RPC_CALLS.labels(self.service, method, "error" if failed else "ok").inc()
        RPC_LATENCY.labels(self.service, method).observe(seconds)

    def snapshot(self) -> dict[str, MethodCounters]:
        with self._lock:
            return {m: MethodCounters(c.requests, c.errors) for m, c in self._methods.items()}

    @property
    def uptime_seconds(self) -> float:
        return time.time() - self.started_at


def start_metrics_server(host: str, port: int) -> None:
    """Serve /metrics for Prometheus on its own port (0 disables it)."""
    if port:
        start_http_server(port, addr=host)
