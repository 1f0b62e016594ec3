"""What the engine knows about the models it holds in memory.

Serving arrives with the ML issue; until then the registry is empty and says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadedModelInfo:
    name: str
    version: str
    execution_provider: str


class ModelRegistry:
    def __init__(self) -> None:
        self._models: dict[str, LoadedModelInfo] = {}

    def loaded(self) -> list[LoadedModelInfo]:
        return sorted(self._models.values(), key=lambda m: m.name)
