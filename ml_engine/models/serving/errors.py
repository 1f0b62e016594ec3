"""Errors of the serving layer, mapped to gRPC statuses by the shared error interceptor."""

from __future__ import annotations

from service_runtime.errors import DependencyUnavailable


class ModelUnavailable(DependencyUnavailable):
    """The model exists but no version of it can serve right now (503 / UNAVAILABLE)."""


class ModelLoadError(Exception):
    """A version could not be made ready; `reason` is what a FAILED state reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
