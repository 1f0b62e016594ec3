"""The training runs of this engine: start (checked, one at a time per family), supervise the worker
process (progress, time budget, outcome), cancel, look up and watch. Runs are stored as they move, so
a restarted engine finds the runs it was supervising and marks them FAILED.

With several engines on one store (k8s runs two), each run holds a lease: its engine writes a
heartbeat every HEARTBEAT_S. A run with no heartbeat for LEASE_S is lost (its engine is gone) and is
failed by whichever engine reads it next; a starting engine fails its own earlier runs and lost
ones, never a live replica's; a cancel through the other engine is stored and carried out by the
supervising one on its next beat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from ml_engine.training_runs.domain.ports import BarSource, RunStore, ShadowHook, WorkerHandle, WorkerLauncher
from ml_engine.training_runs.domain.runs import Progress, RunSpec, RunState, TrainingRun, check_spec
from service_runtime.errors import FailedPrecondition, NotFound

log = logging.getLogger("ml_engine.training_runs")

ENGINE_RESTARTED = "engine restarted while the run was in progress"
# How often a watch of a run that another engine supervises reads the run's row (s).
WATCH_POLL_S = 2.0
ENGINE_STOPPED = "engine stopped while the run was in progress"
# The lease (s): the supervising engine's heartbeat period, and the silence after which a run is lost.
HEARTBEAT_S = 2.0
LEASE_S = 30.0
LIST_DEFAULT, LIST_MAX = 50, 200


@dataclass(frozen=True)
class RunLimits:
    time_budget_s: float
    cancel_grace_s: float = 5.0


def _busy(run: TrainingRun) -> FailedPrecondition:
    where = f", on engine {run.engine}" if run.engine else ""
    return FailedPrecondition(
        f"a {run.spec.family} training run is already in progress ({run.id}{where}); one at a time per "
        "family: wait for it or cancel it"
    )


@dataclass
class _Active:
    run: TrainingRun
    task: asyncio.Task[None] | None = None
    handle: WorkerHandle | None = None
    cancelled: bool = False
    timed_out: bool = False
    # Why the engine stopped it (engine shutdown), when not cancelled by an admin.
    stop_reason: str = ""
    outcome: dict[str, object] = field(default_factory=dict)


class TrainingRuns:
    def __init__(
        self,
        store: RunStore,
        bars: BarSource,
        launcher: WorkerLauncher,
        put_in_shadow: ShadowHook,
        limits: RunLimits,
        clock: Callable[[], float] = time.time,
        watch_poll_s: float = WATCH_POLL_S,
        engine_name: str = "",
        heartbeat_s: float = HEARTBEAT_S,
        lease_s: float = LEASE_S,
    ) -> None:
        self.store = store
        self.bars = bars
        self.launcher = launcher
        self.put_in_shadow = put_in_shadow
        self.limits = limits
        self.clock = clock
        self.watch_poll_s = watch_poll_s
        # The host name: a restarted engine (the same pod, or `make run` again) knows its own runs.
        self.engine_name = engine_name or socket.gethostname()
        self.heartbeat_s = heartbeat_s
        self.lease_s = lease_s
        # The run in progress of each family (one at a time per family).
        self._active: dict[str, _Active] = {}
        self._watchers: dict[str, set[asyncio.Queue[TrainingRun]]] = {}

    # ---- life cycle ---------------------------------------------------------------------------

    async def recover(self) -> list[TrainingRun]:
        """At engine start: the runs this engine's previous process left PENDING or RUNNING are
        FAILED (their worker died with it; its work folder is a dot folder serving ignores), and so
        are lost ones. Another engine's live runs are left to it."""
        failed = []
        for run in await asyncio.to_thread(self.store.unfinished):
            if run.engine in ("", self.engine_name):
                done = run.finish(RunState.FAILED, self.clock(), error=ENGINE_RESTARTED)
                await asyncio.to_thread(self.store.update, done)
                failed.append(done)
            elif (expired := await self._expired_if_lost(run)).state.final:
                failed.append(expired)
        return failed

    async def close(self) -> None:
        """At engine stop: every worker stopped, its run FAILED."""
        for active in list(self._active.values()):
            active.stop_reason = ENGINE_STOPPED
            await self._stop(active)

    # ---- use cases ----------------------------------------------------------------------------

    async def start(self, spec: RunSpec, actor: str) -> TrainingRun:
        self._refuse_if_unable()
        checked = await asyncio.to_thread(check_spec, spec, self.bars)
        self._refuse_if_busy(checked.family)
        now = self.clock()
        run = TrainingRun(str(uuid.uuid4()), checked, actor, now, engine=self.engine_name, heartbeat_at=now)
        active = _Active(run)
        self._active[checked.family] = active  # reserved before the next await: no second run slips in
        try:
            await self._refuse_if_busy_elsewhere(checked.family)
            await asyncio.to_thread(self.store.insert, run)
        except BaseException:
            self._active.pop(checked.family, None)
            raise
        active.task = asyncio.get_running_loop().create_task(
            self._supervise(active), name=f"training {run.id}"
        )
        return run

    async def cancel(self, run_id: str) -> TrainingRun:
        active = next((a for a in self._active.values() if a.run.id == run_id), None)
        if active is None:
            return await self._cancel_elsewhere(run_id)
        active.cancelled = True
        await self._stop(active)
        return await self.get(run_id)

    async def get(self, run_id: str) -> TrainingRun:
        for active in self._active.values():
            if active.run.id == run_id:
                return active.run
        return await self._stored(run_id)

    async def latest(self, limit: int) -> list[TrainingRun]:
        limit = min(limit or LIST_DEFAULT, LIST_MAX)
        return [await self._expired_if_lost(run) for run in await asyncio.to_thread(self.store.latest, limit)]

    async def watch(self, run_id: str) -> AsyncIterator[TrainingRun]:
        """The run now, then each change, ending with its final state. A run this engine does not
        supervise (another replica's) is followed in the store, where its engine writes each move;
        before, its watch never heard of a change and never ended."""
        queue: asyncio.Queue[TrainingRun] = asyncio.Queue()
        self._watchers.setdefault(run_id, set()).add(queue)
        try:
            run = await self.get(run_id)
            while True:
                yield run
                if run.state.final:
                    return
                run = await (queue.get() if self._supervises(run_id) else self._stored_change(run))
        finally:
            watchers = self._watchers.get(run_id)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    self._watchers.pop(run_id, None)

    # ---- steps --------------------------------------------------------------------------------

    def _supervises(self, run_id: str) -> bool:
        return any(active.run.id == run_id for active in self._active.values())

    async def _stored(self, run_id: str) -> TrainingRun:
        run = await asyncio.to_thread(self.store.get, run_id)
        if run is None:
            raise NotFound(f"no training run {run_id}")
        return await self._expired_if_lost(run)

    async def _stored_change(self, last: TrainingRun) -> TrainingRun:
        while True:
            await asyncio.sleep(self.watch_poll_s)
            stored = await self._stored(last.id)
            if not stored.same_as(last):
                return stored

    async def _expired_if_lost(self, run: TrainingRun) -> TrainingRun:
        """`run`, or FAILED when its engine has been silent past the lease (stored once: the
        update applies only while the run is still silent, so a late beat or end wins)."""
        now = self.clock()
        if self._supervises(run.id) or not run.lost(now, self.lease_s):
            return run
        silence = f"no heartbeat for {self.lease_s:g} s"
        failed = run.finish(
            RunState.FAILED, now, error=f"its engine ({run.engine or 'unknown'}) stopped answering: {silence}"
        )
        if await asyncio.to_thread(self.store.expire, failed, now - self.lease_s):
            log.warning("training run lost with its engine", extra={"run_id": run.id, "engine": run.engine})
            return failed
        return await self._stored(run.id)

    async def _cancel_elsewhere(self, run_id: str) -> TrainingRun:
        """A run another engine supervises: the request is stored, that engine stops the run on its
        next beat, and the answer is the run once it has ended (or still in progress with the
        cancel asked, should that engine take longer than a beat and the grace to stop it)."""
        run = await self._stored(run_id)
        if run.state.final or not await asyncio.to_thread(self.store.request_cancel, run_id):
            run = await self._stored(run_id)
            raise FailedPrecondition(f"training run {run_id} is {run.state.value}, not in progress")
        deadline = self.clock() + self.heartbeat_s + self.limits.cancel_grace_s + 2 * self.watch_poll_s
        while not run.state.final and self.clock() < deadline:
            await asyncio.sleep(self.watch_poll_s)
            run = await self._stored(run_id)
        return run

    def _refuse_if_unable(self) -> None:
        missing = self.launcher.missing()
        if missing is not None:
            raise FailedPrecondition(missing)

    def _refuse_if_busy(self, family: str) -> None:
        busy = self._active.get(family)
        if busy is not None:
            raise _busy(busy.run)

    async def _refuse_if_busy_elsewhere(self, family: str) -> None:
        """One at a time per family across engines too: a live run of another engine (a lost one is
        failed here). Two starts on two engines in the same instant can still both pass."""
        for run in await asyncio.to_thread(self.store.unfinished):
            elsewhere = run.spec.family == family and run.engine != self.engine_name
            if elsewhere and not (await self._expired_if_lost(run)).state.final:
                raise _busy(run)

    async def _supervise(self, active: _Active) -> None:
        beat = asyncio.get_running_loop().create_task(self._beat(active), name=f"heartbeat {active.run.id}")
        try:
            active.handle = await self.launcher.launch(active.run)
            await self._publish(active, replace(active.run, state=RunState.RUNNING))
            if active.cancelled:
                await active.handle.stop(self.limits.cancel_grace_s)
            try:
                async with asyncio.timeout(self.limits.time_budget_s):
                    await self._follow(active, active.handle)
                    status = await active.handle.wait()
            except TimeoutError:
                active.timed_out = True
                await active.handle.stop(self.limits.cancel_grace_s)
                status = await active.handle.wait()
            await asyncio.to_thread(active.handle.discard_work)
            await self._finish(active, status)
        except Exception as error:  # a launch failure, a store error: the run fails, the engine goes on
            log.exception("training run failed", extra={"run_id": active.run.id})
            # The family is freed below: its worker must be gone first, or a second run would train
            # beside the orphan and both would commit.
            await self._stop_worker(active)
            with contextlib.suppress(Exception):
                await self._publish(
                    active, active.run.finish(RunState.FAILED, self.clock(), error=str(error))
                )
        finally:
            beat.cancel()
            self._active.pop(active.run.spec.family, None)

    async def _beat(self, active: _Active) -> None:
        """The lease: a heartbeat every `heartbeat_s`, which also reads a cancel asked elsewhere."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                asked = await asyncio.to_thread(self.store.beat, active.run.id, self.clock())
            except Exception:  # the store away: the next beat tries again (the lease allows many)
                log.warning("training run heartbeat failed", exc_info=True, extra={"run_id": active.run.id})
                continue
            if asked and not active.cancelled:
                log.info("training run cancelled through another engine", extra={"run_id": active.run.id})
                active.cancelled = True
                if active.handle is not None:  # else stopped as soon as it is launched
                    await active.handle.stop(self.limits.cancel_grace_s)

    async def _stop_worker(self, active: _Active) -> None:
        """Stops a worker whose supervision failed (SIGTERM, SIGKILL after the grace) and removes
        what it left in its work folder."""
        handle = active.handle
        if handle is None:
            return
        try:
            await handle.stop(self.limits.cancel_grace_s)
            await handle.wait()
            await asyncio.to_thread(handle.discard_work)
        except Exception:  # logged; the run is failed either way
            log.exception("stopping the worker of a failed run failed", extra={"run_id": active.run.id})

    async def _follow(self, active: _Active, handle: WorkerHandle) -> None:
        async for line in handle.lines():
            stage = str(line.get("stage", ""))
            if stage in ("done", "failed", "cancelled"):
                active.outcome = line
                continue
            progress = Progress(
                stage,
                int(str(line.get("fold", 0))),
                int(str(line.get("folds", 0))),
                float(str(line.get("percent", 0.0))),
                str(line.get("message", "")),
            )
            await self._publish(active, replace(active.run, progress=progress))

    async def _finish(self, active: _Active, status: int) -> None:
        run, now, outcome = active.run, self.clock(), active.outcome
        if outcome.get("stage") == "done":
            version = str(outcome.get("version", ""))
            models = tuple(str(m) for m in outcome.get("models", []))  # type: ignore[attr-defined]
            progress = replace(run.progress, stage="done", percent=100.0, message=str(outcome.get("message")))
            done = replace(run, progress=progress, produced_version=version, models=models)
            for name in models:
                await self.put_in_shadow(name, version)
            await self._publish(active, done.finish(RunState.SUCCEEDED, now))
        elif active.cancelled:
            await self._publish(active, run.finish(RunState.CANCELLED, now))
        else:
            await self._publish(active, run.finish(RunState.FAILED, now, error=self._failure(active, status)))

    def _failure(self, active: _Active, status: int) -> str:
        if active.stop_reason:
            return active.stop_reason
        if "error" in active.outcome:
            return str(active.outcome["error"])
        if active.timed_out:
            return f"time budget of {self.limits.time_budget_s:g} s exceeded (ML_TRAINING_TIME_BUDGET_S)"
        if status == -signal.SIGXCPU:
            return "CPU time limit exceeded (ML_TRAINING_CPU_LIMIT_S)"
        return f"the training worker exited with status {status}"

    async def _stop(self, active: _Active) -> None:
        if active.handle is not None:
            await active.handle.stop(self.limits.cancel_grace_s)
        if active.task is not None:
            await asyncio.shield(active.task)

    async def _publish(self, active: _Active, run: TrainingRun) -> None:
        run = replace(run, heartbeat_at=self.clock())
        active.run = run
        await asyncio.to_thread(self.store.update, run)
        for queue in self._watchers.get(run.id, ()):
            queue.put_nowait(run)
