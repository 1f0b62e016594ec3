"""Work that finishes even when the call that started it is cancelled.

gRPC cancels a handler when its client goes away or Envoy's route timeout passes. Some work must
not stop half way for that: an import that commits must still drop the engine's copies of the
symbol, an activation must still end in a state, mark its version and write its audit entry. Such
work runs as a task of its own, which the caller awaits through `asyncio.shield`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class RunToEnd:
    """Runs work to its end whatever happens to its caller, and keeps it until then (the event
    loop holds only weak references to tasks)."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    async def run(
        self,
        work: Coroutine[Any, Any, T],
        when_abandoned: Callable[[asyncio.Task[T]], None] | None = None,
    ) -> T:
        """The result of `work`; a cancelled caller stops waiting, the work goes on, and
        `when_abandoned` is called with its task once it ends (no interceptor is left to report it)."""
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if when_abandoned is not None:
                task.add_done_callback(when_abandoned)
            raise

    async def wait(self) -> None:
        """Until the work still running has ended (a process stopping), whatever its outcome."""
        await asyncio.gather(*self._running, return_exceptions=True)
