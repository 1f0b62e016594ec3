"""Probing every dependency of the platform at once and naming each result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from service_runtime.health import timed_probe
from trading.common.v1 import health_pb2

MlHealth = Callable[[], Awaitable[tuple[str, list[health_pb2.DependencyHealth]]]]


async def probe_ml_engine(target: str, ml_health: MlHealth) -> list[health_pb2.DependencyHealth]:
    """The engine itself plus its dependencies, prefixed `ml_engine.`; the engine's own
    dependencies count only when the engine answered."""
    nested: list[health_pb2.DependencyHealth] = []

    async def probe() -> str:
        status, deps = await ml_health()
        nested.extend(deps)
        return f"{target} ({status})"

    own = await timed_probe("ml_engine", probe)
    for dep in nested:
        dep.name = f"ml_engine.{dep.name}"
    return [own, *nested]


async def gather_health(
    probes: Sequence[Awaitable[health_pb2.DependencyHealth | list[health_pb2.DependencyHealth]]],
) -> list[health_pb2.DependencyHealth]:
    results = await asyncio.gather(*probes)
    flat: list[health_pb2.DependencyHealth] = []
    for result in results:
        flat.extend(result if isinstance(result, list) else [result])
    return flat
