"""The platform's health: probes run together, the engine's own dependencies nested under it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from business.status.domain import gather_health, nested_under


@dataclass
class Report:
    name: str


async def test_nested_dependencies_are_renamed_under_their_owner() -> None:
    own, nested = Report("ml_engine"), [Report("market_db"), Report("models")]
    assert [r.name for r in nested_under("ml_engine", own, nested)] == [
        "ml_engine",
        "ml_engine.market_db",
        "ml_engine.models",
    ]


async def test_every_probe_runs_at_once_and_keeps_its_place() -> None:
    started: list[str] = []

    async def probe(name: str, delay: float) -> Report:
        started.append(name)
        await asyncio.sleep(delay)
        return Report(name)

    async def several() -> list[Report]:
        return [await probe("b", 0), Report("c")]

    reports = await asyncio.wait_for(gather_health(probe("a", 0.05), several(), probe("d", 0)), timeout=1)
    assert [r.name for r in reports] == ["a", "b", "c", "d"]
    assert started[:2] == ["a", "b"]
