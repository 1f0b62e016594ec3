"""What an admin (or the engine itself) chose for each model, shared by every engine process: the
version that serves and the version running in shadow.

An activation (ActivateModelVersion, a promotion, the file watch picking up a new version) swaps
the version in the process that made it, and StartShadow loads the shadow there. Other engines
behind the same edge (k8s runs two) follow the recorded choices on their next file-watch pass, and
an engine that starts loads the chosen version before the highest one: a rollback holds on every
replica and across restarts, where the model repository itself may be read-only (an image) and
hold no marker of it. Ending a shadow is one conditional write, so that when both engines decide to
promote the same shadow only one does it (and audits it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Protocol

log = logging.getLogger("ml_engine.serving")


@dataclass(frozen=True)
class Choice:
    """A model's recorded choices: the version that serves (None: the highest that can), the newest
    version the repository held when it was chosen (a newer one shipped later, in a new image, serves
    instead), and the version in shadow, if any, with when its shadow started (epoch seconds)."""

    version: int | None = None
    shadow: int | None = None
    shadow_started_at: float = 0.0
    newest_then: int | None = None


class VersionChoices(Protocol):
    """Every method blocks (a store round trip): run it in a worker thread."""

    def chosen(self) -> dict[str, Choice]:
        """The choices of every model that has some."""
        ...

    def choose(self, model: str, version: int, newest_then: int | None) -> None:
        """`version` serves `model` from now on (`newest_then`: the newest version on disk now); a
        shadow of that very version ends."""
        ...

    def choose_shadow(self, model: str, version: int, started_at: float) -> None:
        """`version` runs in shadow beside the serving one (replacing the model's shadow)."""
        ...

    def end_shadow(self, model: str, version: int | None = None) -> bool:
        """Ends the model's shadow (only when it is `version`, if given); whether this call ended it."""
        ...


class ProcessChoices:
    """Choices held by this process only: a single engine with no store to share them (tests)."""

    def __init__(self) -> None:
        self._chosen: dict[str, Choice] = {}

    def chosen(self) -> dict[str, Choice]:
        return dict(self._chosen)

    def choose(self, model: str, version: int, newest_then: int | None) -> None:
        now = self._chosen.get(model, Choice())
        shadow = now.shadow if now.shadow != version else None
        self._chosen[model] = replace(now, version=version, shadow=shadow, newest_then=newest_then)

    def choose_shadow(self, model: str, version: int, started_at: float) -> None:
        self._chosen[model] = replace(
            self._chosen.get(model, Choice()), shadow=version, shadow_started_at=started_at
        )

    def end_shadow(self, model: str, version: int | None = None) -> bool:
        now = self._chosen.get(model)
        if now is None or now.shadow is None or (version is not None and now.shadow != version):
            return False
        self._chosen[model] = replace(now, shadow=None)
        return True


async def read_choices(choices: VersionChoices) -> dict[str, Choice] | None:
    """The recorded choices, for a file-watch pass to follow; None (logged) with the store away:
    the next pass reads them again."""
    try:
        return await asyncio.to_thread(choices.chosen)
    except Exception as error:
        log.warning("model choices not read", extra={"error": str(error)})
        return None


class OwnWrites:
    """This engine's own writes of choices (activations, shadow starts and stops). Choices read
    while one was under way, or before one landed, are not followed: they would undo it until the
    next pass."""

    def __init__(self) -> None:
        self._under_way = 0
        self._count = 0

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        self._under_way += 1
        try:
            yield
        finally:
            self._under_way -= 1
            self._count += 1

    def wrote(self) -> None:
        self._count += 1

    def mark(self) -> int:
        """Taken before reading the choices; `stale(mark)` after."""
        return self._count

    def stale(self, mark: int) -> bool:
        return self._under_way > 0 or self._count != mark
