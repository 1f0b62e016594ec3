"""What the engine reports about the models it holds in memory (GetStats).

The serving layer (ml_engine.serving.registry.ModelRegistry) fills these in; the engine
handlers only need something with `loaded()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LoadedModelInfo:
    name: str
    # The version serving requests; "" when none is.
    version: str
    # Read back from the inference session, never assumed.
    execution_provider: str
    # ModelState name: "READY", "DEGRADED", "LOADING", "FAILED" or "AVAILABLE".
    state: str
    requests: int = 0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    # Requests per session run: what the micro-batcher achieves.
    mean_batch_size: float = 0.0
    max_batch_size: int = 0
    batches: int = 0

    @property
    def serving(self) -> bool:
        return self.state in ("READY", "DEGRADED")


class LoadedModels(Protocol):
    def loaded(self) -> list[LoadedModelInfo]: ...


class NoModels:
    """No model repository: nothing loaded (tests of the engine without serving)."""

    def loaded(self) -> list[LoadedModelInfo]:
        return []


# Kept until ml_engine/main.py passes the serving registry to EngineHandlers.
ModelRegistry = NoModels
