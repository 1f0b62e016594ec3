"""What the training runs need from outside: the market data store, the run store, the worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ml_engine.training_runs.domain.runs import TrainingRun


class BarSource(Protocol):
    def stored_timeframe(self, symbol: str) -> str | None:
        """The timeframe `symbol`'s bars are stored at, or None for a symbol not stored."""
        ...

    def count(self, symbol: str, timeframe: str, start: int, end: int) -> int:
        """Stored bars of `symbol` at `timeframe` with start <= time < end."""
        ...


class RunStore(Protocol):
    def insert(self, run: TrainingRun) -> None: ...

    def update(self, run: TrainingRun) -> None: ...

    def get(self, run_id: str) -> TrainingRun | None: ...

    def latest(self, limit: int) -> Sequence[TrainingRun]: ...

    def unfinished(self) -> Sequence[TrainingRun]:
        """Runs PENDING or RUNNING (at engine start: left over from a previous process)."""
        ...

    def beat(self, run_id: str, at: float) -> bool:
        """Moves a run's heartbeat to `at` if it is still in progress; whether a cancel was asked."""
        ...

    def request_cancel(self, run_id: str) -> bool:
        """Marks a run in progress to be cancelled by its engine; False when it is no longer in progress."""
        ...

    def expire(self, failed: TrainingRun, stale_before: float) -> bool:
        """Stores `failed` for its run if that is still in progress with no heartbeat since
        `stale_before`; False when another write came first (its engine's beat, its end)."""
        ...


class WorkerHandle(Protocol):
    def lines(self) -> AsyncIterator[dict[str, object]]:
        """The worker's progress lines (JSON objects) until its stdout closes."""
        ...

    async def wait(self) -> int:
        """The exit status (negative: killed by that signal)."""
        ...

    async def stop(self, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after `grace_s`; returns once the process is gone."""
        ...

    def discard_work(self) -> None:
        """Removes the run's work folder if the worker left it (killed before cleaning up)."""
        ...


class WorkerLauncher(Protocol):
    async def launch(self, run: TrainingRun) -> WorkerHandle: ...

    def missing(self) -> str | None:
        """What this engine lacks to train (None: nothing): refused before a run is stored."""
        ...


# The call that puts a new version in shadow (model name, version); see training_runs/shadow.py.
ShadowHook = Callable[[str, str], Awaitable[None]]
