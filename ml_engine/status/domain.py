"""EngineService's domain: which per-method counters a stats answer lists, and what the engine
reports about the models it holds in memory.

The serving layer (ml_engine.models.serving.registry.ModelRegistry) fills LoadedModelInfo in; the
status handlers only need something with `loaded()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from service_runtime.errors import FieldViolation, InvalidArgument
from service_runtime.metrics import MethodCounters

MAX_PREFIX_LEN = 200
MAX_METHODS = 1000


def select_methods(
    methods: dict[str, MethodCounters], method_prefix: str, max_methods: int
) -> list[tuple[str, MethodCounters]]:
    """Methods matching the prefix, busiest first (ties by name), at most `max_methods` (0: all)."""
    violations = []
    if len(method_prefix) > MAX_PREFIX_LEN:
        violations.append(FieldViolation("method_prefix", f"at most {MAX_PREFIX_LEN} characters"))
    elif method_prefix and not method_prefix.startswith("/"):
        violations.append(FieldViolation("method_prefix", 'must start with "/", e.g. "/trading.ml.v1."'))
    if not 0 <= max_methods <= MAX_METHODS:
        violations.append(FieldViolation("max_methods", f"must be between 0 and {MAX_METHODS}"))
    if violations:
        raise InvalidArgument(*violations)
    chosen = sorted(
        ((name, c) for name, c in methods.items() if name.startswith(method_prefix)),
        key=lambda item: (-item[1].requests, item[0]),
    )
    return chosen[:max_methods] if max_methods else chosen


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
