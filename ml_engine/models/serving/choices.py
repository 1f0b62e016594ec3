"""Which version of each model an admin chose, shared by every engine process.

An activation (ActivateModelVersion, a promotion, the file watch picking up a new version) swaps
the version in the process that made it. Other engines behind the same edge (k8s runs two) follow
the recorded choice on their next file-watch pass, and an engine that starts loads the chosen
version before the highest one: a rollback holds on every replica and across restarts, where the
model repository itself may be read-only (an image) and hold no marker of it.
"""

from __future__ import annotations

from typing import Protocol


class VersionChoices(Protocol):
    def chosen(self) -> dict[str, int]:
        """The chosen version of each model that has one (blocking: run it in a worker thread)."""
        ...

    def choose(self, model: str, version: int) -> None:
        """Record `version` as the one `model` serves (blocking)."""
        ...


class ProcessChoices:
    """Choices held by this process only: a single engine with no store to share them (tests)."""

    def __init__(self) -> None:
        self._chosen: dict[str, int] = {}

    def chosen(self) -> dict[str, int]:
        return dict(self._chosen)

    def choose(self, model: str, version: int) -> None:
        self._chosen[model] = version
