"""Combining dependency probes into one verdict (no gRPC here beyond the shared message)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from service_runtime.errors import DomainError
from trading.common.v1 import health_pb2

UP = health_pb2.DEPENDENCY_STATE_UP
DOWN = health_pb2.DEPENDENCY_STATE_DOWN
DISABLED = health_pb2.DEPENDENCY_STATE_DISABLED


def overall_status(dependencies: Sequence[health_pb2.DependencyHealth]) -> str:
    """ "ok" when every configured dependency is up; disabled ones do not count."""
    return "ok" if all(d.state in (UP, DISABLED) for d in dependencies) else "degraded"


def disabled(name: str, why: str) -> health_pb2.DependencyHealth:
    return health_pb2.DependencyHealth(name=name, state=DISABLED, detail=why)


async def timed_probe(name: str, probe: Callable[[], Awaitable[str]]) -> health_pb2.DependencyHealth:
    """Run `probe` (returns a detail string or raises); any exception means down."""
    started = time.perf_counter()
    try:
        detail, state = await probe(), UP
    except DomainError as exc:
        detail, state = exc.message, DOWN
    except Exception as exc:  # the reason goes into the report, not a stack trace
        first_line = str(exc).splitlines()[0][:200] if str(exc) else ""
        detail, state = f"{type(exc).__name__}: {first_line}", DOWN
    return health_pb2.DependencyHealth(
        name=name,
        state=state,
        detail=detail,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )
