"""Selecting which per-method counters a stats answer lists."""

from __future__ import annotations

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
