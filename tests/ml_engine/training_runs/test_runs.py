"""TrainingRuns without the gRPC layer: a restarted engine fails the runs it left in progress, a
killed worker's work folder is removed, a failed supervision stops its worker, and the worker's
commit moves every version or none (and a run whose versions moved is done, cancelled or not)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ml_engine.shared.database import MarketStore
from ml_engine.training_runs.adapters import worker_process
from ml_engine.training_runs.adapters.worker_process import (
    ProcessLauncher,
    WorkerLimits,
    WorkerProcess,
    work_dir,
)
from ml_engine.training_runs.data.repository import SqlRunStore, StoredBars
from ml_engine.training_runs.domain.runs import Progress, RunSpec, RunState, TrainingRun
from ml_engine.training_runs.runs import ENGINE_RESTARTED, RunLimits, TrainingRuns
from service_runtime.errors import FailedPrecondition
from tests.ml_engine.training_runs.conftest import END, START, record_shadow

# A worker that ignores SIGTERM (stuck in native code, say).
IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
)


def _run(run_id: str, state: RunState) -> TrainingRun:
    spec = RunSpec("gru", "intraday", ("EURUSD",), START, END, 2)
    return TrainingRun(run_id, spec, "admin-7", 1.0, state=state, progress=Progress("fold", 1, 2, 45.0, "x"))


async def test_runs_left_in_progress_are_failed_at_engine_start(
    runs: TrainingRuns, sample_store: MarketStore
) -> None:
    store = SqlRunStore(sample_store.engine)
    store.insert(_run("a", RunState.RUNNING))
    store.insert(_run("b", RunState.PENDING))
    store.insert(_run("c", RunState.SUCCEEDED))
    failed = await runs.recover()
    assert sorted(r.id for r in failed) == ["a", "b"]
    for run_id in ("a", "b"):
        stored = store.get(run_id)
        assert stored is not None and stored.state is RunState.FAILED and stored.error == ENGINE_RESTARTED
        assert stored.finished_at is not None and stored.progress.fold == 1  # the last progress is kept
    assert store.get("c") == _run("c", RunState.SUCCEEDED)


async def test_a_killed_worker_leaves_no_work_folder(tmp_path: Path) -> None:
    """SIGTERM ignored: SIGKILL after the grace period, and the engine removes what the worker left."""
    work = work_dir(tmp_path, "r1")
    (work / "intraday_gru" / "3").mkdir(parents=True)
    (work / "intraday_gru" / "3" / "model.onnx").write_bytes(b"half")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        IGNORES_SIGTERM,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and await process.stdout.readline()
    worker = WorkerProcess(process, work)
    await worker.stop(grace_s=0.2)
    assert await worker.wait() == -9
    worker.discard_work()
    assert os.listdir(tmp_path) == []


@pytest.fixture
def sigterm_restored() -> Iterator[None]:
    """The commit leaves SIGTERM ignored (the worker exits next); this process gets its handler back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def work_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A repository and a run's work folder holding version 2 of two models."""
    repo, work = tmp_path / "repo", tmp_path / "repo" / ".training-r1"
    for name in ("intraday_xgb_range_high", "intraday_xgb_range_low"):
        (work / name / "2").mkdir(parents=True)
        (work / name / "2" / "model.onnx").write_bytes(b"x")
        (work / name / "config.pbtxt").write_text("c")
    return repo, work


def test_the_commit_moves_every_version_or_none(tmp_path: Path, sigterm_restored: None) -> None:
    from ml_engine.training.worker import commit  # the worker's module: the training extra

    repo, work = work_folder(tmp_path)
    # A version 2 already there for the second model: nothing moves.
    (repo / "intraday_xgb_range_low" / "2").mkdir(parents=True)
    with pytest.raises(FileExistsError):
        commit(work, repo, "2")
    assert not (repo / "intraday_xgb_range_high" / "2").exists()
    assert (work / "intraday_xgb_range_high" / "2" / "model.onnx").exists()
    (repo / "intraday_xgb_range_low" / "2").rmdir()
    assert commit(work, repo, "2") == ["intraday_xgb_range_high", "intraday_xgb_range_low"]
    assert (repo / "intraday_xgb_range_low" / "2" / "model.onnx").exists()
    assert (repo / "intraday_xgb_range_high" / "config.pbtxt").read_text() == "c"


# The worker's last steps, in a process of its own as in production: `commit` then `report("done")`,
# `Cancelled` reported as main() does. The engine's cancel (SIGTERM) lands during the first rename
# (argv[2] == "during"), or once the commit has returned, before the worker reports (argv[2] == "after").
COMMIT_WITH_A_CANCEL = """
import os, signal, sys
from pathlib import Path
from ml_engine.training import worker
tmp, when = Path(sys.argv[1]), sys.argv[2]
rename = os.rename
def rename_and_cancel(src, dst):
    rename(src, dst)
    if when == "during":
        os.kill(os.getpid(), signal.SIGTERM)
worker.os.rename = rename_and_cancel
signal.signal(signal.SIGTERM, worker._on_sigterm)
try:
    worker.commit(tmp / "repo" / ".training-r1", tmp / "repo", "2")
    if when == "after":
        os.kill(os.getpid(), signal.SIGTERM)
    worker.report("done", 100.0)
except worker.Cancelled:
    worker.report("cancelled", 0.0)
"""


@pytest.mark.parametrize("when", ["during", "after"])
def test_a_cancel_during_the_commit_is_too_late_the_run_is_done(tmp_path: Path, when: str) -> None:
    """SIGTERM was held while the versions moved, then delivered: the worker reported cancelled (the
    run CANCELLED) with its versions in the repository."""
    repo, _ = work_folder(tmp_path)
    worker = subprocess.run(
        [sys.executable, "-c", COMMIT_WITH_A_CANCEL, str(tmp_path), when],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).parents[3],  # the repository root, where `ml_engine` imports from
    )
    stages = [json.loads(line)["stage"] for line in worker.stdout.splitlines()]
    assert stages == ["done"], worker.stderr[-2000:]
    assert (repo / "intraday_xgb_range_high" / "2" / "model.onnx").exists()
    assert (repo / "intraday_xgb_range_low" / "2" / "model.onnx").exists()


def test_a_cancel_during_a_commit_that_fails_still_cancels(tmp_path: Path, sigterm_restored: None) -> None:
    from ml_engine.training import worker

    repo, work = work_folder(tmp_path)
    (repo / "intraday_xgb_range_low" / "2").mkdir(parents=True)  # the second rename fails: all go back
    rename = os.rename

    def rename_and_cancel(src: Path, dst: Path) -> None:
        rename(src, dst)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, worker._on_sigterm)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker.os, "rename", rename_and_cancel)
        with pytest.raises(worker.Cancelled):
            worker.commit(work, repo, "2")
    assert not (repo / "intraday_xgb_range_high" / "2").exists()
    assert (work / "intraday_xgb_range_high" / "2" / "model.onnx").exists()


class FakeWorker:
    """A worker that prints `lines` then exits with `status`, or hangs until stopped."""

    def __init__(self, lines: list[dict[str, object]], status: int | None) -> None:
        self._lines = lines
        self.status = status
        self.stopped = asyncio.Event()
        self.discarded = False

    async def lines(self) -> AsyncIterator[dict[str, object]]:
        for line in self._lines:
            yield line
        if self.status is None:
            await self.stopped.wait()

    async def wait(self) -> int:
        if self.status is None:
            await self.stopped.wait()
            return -15  # SIGTERM
        return self.status

    async def stop(self, grace_s: float) -> None:
        self.stopped.set()

    def discard_work(self) -> None:
        self.discarded = True


class FakeLauncher:
    def __init__(self, worker: FakeWorker) -> None:
        self.worker = worker

    async def launch(self, run: TrainingRun) -> FakeWorker:
        return self.worker

    def missing(self) -> str | None:
        return None


def _fake_runs(
    store: MarketStore, worker: FakeWorker, time_budget_s: float = 30.0, **lease: Any
) -> TrainingRuns:
    return TrainingRuns(
        SqlRunStore(store.engine),
        StoredBars(store.engine),
        FakeLauncher(worker),
        record_shadow,
        RunLimits(time_budget_s=time_budget_s, cancel_grace_s=1.0),
        **lease,
    )


async def _final(runs: TrainingRuns, run_id: str) -> TrainingRun:
    return [r async for r in runs.watch(run_id)][-1]


SPEC = RunSpec("xgboost", "intraday", ("EURUSD",), START, END, 2)


async def test_a_run_over_its_time_budget_is_stopped_and_failed(sample_store: MarketStore) -> None:
    worker = FakeWorker([{"stage": "fold", "fold": 1, "folds": 2, "percent": 5.0}], status=None)
    runs = _fake_runs(sample_store, worker, time_budget_s=0.5)
    run = await runs.start(SPEC, "admin-7")
    final = await _final(runs, run.id)
    assert final.state is RunState.FAILED and "time budget of 0.5 s exceeded" in final.error
    assert worker.stopped.is_set() and worker.discarded
    assert final.progress.fold == 1


async def test_a_worker_error_fails_the_run_with_its_message(sample_store: MarketStore) -> None:
    worker = FakeWorker([{"stage": "failed", "error": "ValueError: no bars"}], status=1)
    runs = _fake_runs(sample_store, worker)
    run = await runs.start(SPEC, "admin-7")
    final = await _final(runs, run.id)
    assert (final.state, final.error, final.produced_version) == (RunState.FAILED, "ValueError: no bars", "")
    stored = SqlRunStore(sample_store.engine).get(run.id)
    assert stored is not None and stored.state is RunState.FAILED
    # The family is free again: the next run starts.
    assert (await runs.start(SPEC, "admin-7")).state is RunState.PENDING
    await runs.close()


class FlakyStore(SqlRunStore):
    """A store whose second write fails (a database blip while the run is followed)."""

    def __init__(self, store: MarketStore) -> None:
        super().__init__(store.engine)
        self.writes = 0

    def update(self, run: TrainingRun) -> None:
        self.writes += 1
        if self.writes == 2:
            raise RuntimeError("database blip")
        super().update(run)


async def test_a_supervision_error_stops_the_worker_before_freeing_the_family(
    sample_store: MarketStore,
) -> None:
    """The run fails; its worker, still training, is stopped and its work folder removed before the
    family takes a new run (which would otherwise train, and commit, beside it)."""
    worker = FakeWorker([{"stage": "fold", "fold": 1, "folds": 2, "percent": 5.0}], status=None)
    runs = TrainingRuns(
        FlakyStore(sample_store),
        StoredBars(sample_store.engine),
        FakeLauncher(worker),
        record_shadow,
        RunLimits(time_budget_s=30.0, cancel_grace_s=1.0),
    )
    first = await runs.start(SPEC, "admin-7")
    final = await _final(runs, first.id)
    assert final.state is RunState.FAILED and "database blip" in final.error
    assert worker.stopped.is_set() and worker.discarded
    assert (await runs.start(SPEC, "admin-7")).state is RunState.PENDING
    await runs.close()


async def test_a_run_is_watched_to_its_end_from_another_engine(sample_store: MarketStore) -> None:
    """StreamTrainingRun landing on the replica that does not run it (k8s runs two): it follows the
    run in the store until its final state (it used to wait for changes only its own runs make)."""
    worker = FakeWorker([{"stage": "fold", "fold": 1, "folds": 2, "percent": 50.0}], status=None)
    supervising = _fake_runs(sample_store, worker)
    elsewhere = TrainingRuns(
        SqlRunStore(sample_store.engine),
        StoredBars(sample_store.engine),
        FakeLauncher(FakeWorker([], status=0)),
        record_shadow,
        RunLimits(time_budget_s=30.0),
        watch_poll_s=0.05,
    )
    run = await supervising.start(SPEC, "admin-7")
    seen: list[TrainingRun] = []

    async def watch() -> None:
        async for state in elsewhere.watch(run.id):
            seen.append(state)
            if state.progress.fold == 1 and not state.state.final:
                await supervising.cancel(run.id)  # an admin, through the replica that runs it

    await asyncio.wait_for(watch(), 10)
    assert seen[-1].state is RunState.CANCELLED and seen[-1] == SqlRunStore(sample_store.engine).get(run.id)
    assert any(state.progress.percent == 50.0 for state in seen)


# Two engines on one store, as k8s runs them: short heartbeats and lease so the tests are quick.
QUICK_LEASE = {"heartbeat_s": 0.05, "lease_s": 0.5, "watch_poll_s": 0.05}


async def test_a_starting_engine_fails_its_own_and_lost_runs_but_not_a_live_replicas(
    sample_store: MarketStore,
) -> None:
    """A replica restarting used to fail every run in progress, the other replica's included."""
    store = SqlRunStore(sample_store.engine)
    now = 10_000.0
    mine = replace(_run("mine", RunState.RUNNING), engine="engine-a", heartbeat_at=now)
    legacy = _run("legacy", RunState.PENDING)  # stored before leases: no engine recorded
    live = replace(_run("live", RunState.RUNNING), engine="engine-b", heartbeat_at=now - 1)
    lost = replace(_run("lost", RunState.RUNNING), engine="engine-c", heartbeat_at=now - 31)
    for run in (mine, legacy, live, lost):
        store.insert(run)
    starting = TrainingRuns(
        store,
        StoredBars(sample_store.engine),
        FakeLauncher(FakeWorker([], status=0)),
        record_shadow,
        RunLimits(time_budget_s=30.0),
        clock=lambda: now,
        engine_name="engine-a",
        lease_s=30.0,
    )
    failed = {run.id: run for run in await starting.recover()}
    assert sorted(failed) == ["legacy", "lost", "mine"]
    assert failed["mine"].error == ENGINE_RESTARTED and failed["legacy"].error == ENGINE_RESTARTED
    assert "engine-c" in failed["lost"].error and "stopped answering" in failed["lost"].error
    assert store.get("live") == live  # the other replica's run goes on
    for run_id in failed:
        stored = store.get(run_id)
        assert stored is not None and stored.state is RunState.FAILED


def test_the_lease_in_the_store(empty_market_store: MarketStore) -> None:
    """Beat, cancel asked elsewhere and expiry, each conditional on the run still in progress (on
    MariaDB too, where an UPDATE changing nothing reports no row unless rows found are counted)."""
    store = SqlRunStore(empty_market_store.engine)
    run = replace(_run("r", RunState.RUNNING), engine="engine-a", heartbeat_at=100.0)
    store.insert(run)
    assert store.beat("r", 110.0) is False  # nothing asked yet
    assert store.request_cancel("r") and store.request_cancel("r")  # asked twice: still in progress
    store.update(replace(run, progress=Progress("fold", 2, 2, 90.0, "y")))  # the engine's own write
    assert store.beat("r", 120.0) is True  # its full-row writes never drop the request
    failed = run.finish(RunState.FAILED, 130.0, error="lost")
    assert store.expire(failed, stale_before=115.0) is False  # it beat at 120: not lost
    assert store.expire(failed, stale_before=125.0) is True
    stored = store.get("r")
    assert stored is not None and (stored.state, stored.error) == (RunState.FAILED, "lost")
    assert store.expire(failed, stale_before=200.0) is False  # once
    assert store.request_cancel("r") is False and store.beat("r", 140.0) is False


async def test_a_run_whose_engine_stops_answering_ends_failed_for_its_watcher(
    sample_store: MarketStore,
) -> None:
    """A watch on the other replica used to poll forever once the supervising engine was gone."""
    worker = FakeWorker([{"stage": "fold", "fold": 1, "folds": 2, "percent": 50.0}], status=None)
    supervising = _fake_runs(sample_store, worker, engine_name="engine-a", **QUICK_LEASE)
    elsewhere = _fake_runs(sample_store, FakeWorker([], status=0), engine_name="engine-b", **QUICK_LEASE)
    run = await supervising.start(SPEC, "admin-7")
    seen: list[TrainingRun] = []

    async def watch() -> None:
        async for state in elsewhere.watch(run.id):
            seen.append(state)

    watching = asyncio.create_task(watch())
    await asyncio.sleep(1.0)  # twice the lease: the beats keep it in progress
    assert not watching.done() and not seen[-1].state.final
    # The engine vanishes (killed with its pod): its supervision ends with no beat and no last write.
    supervision = next(t for t in asyncio.all_tasks() if t.get_name() == f"training {run.id}")
    supervision.cancel()
    await asyncio.wait_for(watching, 10)
    assert seen[-1].state is RunState.FAILED and "stopped answering" in seen[-1].error
    stored = SqlRunStore(sample_store.engine).get(run.id)
    assert stored is not None and stored.state is RunState.FAILED and stored.error == seen[-1].error


async def test_a_cancel_through_the_other_engine_stops_the_run(sample_store: MarketStore) -> None:
    """It used to be refused there ("is running, not in progress"): only the supervising replica could."""
    worker = FakeWorker([{"stage": "fold", "fold": 1, "folds": 2, "percent": 50.0}], status=None)
    supervising = _fake_runs(sample_store, worker, engine_name="engine-a", **QUICK_LEASE)
    elsewhere = _fake_runs(sample_store, FakeWorker([], status=0), engine_name="engine-b", **QUICK_LEASE)
    run = await supervising.start(SPEC, "admin-7")
    cancelled = await asyncio.wait_for(elsewhere.cancel(run.id), 10)
    assert cancelled.state is RunState.CANCELLED and worker.stopped.is_set()
    assert (await supervising.get(run.id)).state is RunState.CANCELLED
    with pytest.raises(FailedPrecondition, match="is cancelled, not in progress"):
        await elsewhere.cancel(run.id)
    await supervising.close()


async def test_one_run_per_family_across_engines(sample_store: MarketStore) -> None:
    """Each replica used to check only its own runs: both could train the same family at once."""
    worker = FakeWorker([{"stage": "fold", "fold": 1, "folds": 2, "percent": 50.0}], status=None)
    supervising = _fake_runs(sample_store, worker, engine_name="engine-a", **QUICK_LEASE)
    elsewhere = _fake_runs(sample_store, FakeWorker([], status=0), engine_name="engine-b", **QUICK_LEASE)
    run = await supervising.start(SPEC, "admin-7")
    with pytest.raises(FailedPrecondition, match=f"already in progress \\({run.id}, on engine engine-a\\)"):
        await elsewhere.start(SPEC, "admin-8")
    other_family = await elsewhere.start(replace(SPEC, family="gru"), "admin-8")
    assert other_family.state is RunState.PENDING
    await supervising.cancel(run.id)
    assert (await elsewhere.start(SPEC, "admin-8")).state is RunState.PENDING  # free again
    await supervising.close()
    await elsewhere.close()


async def test_an_engine_without_the_training_extra_refuses_a_run_before_storing_it(
    sample_store: MarketStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` installs serving only: a run used to be stored, then FAILED with "the training worker
    exited with status 1" (torch missing, said only in the engine's log)."""
    monkeypatch.setattr(worker_process, "TRAINING_MODULES", ("torch", "a_training_module_not_installed"))
    launcher = ProcessLauncher(tmp_path, "sqlite://", WorkerLimits(threads=1, nice=0, cpu_limit_s=60))
    store = SqlRunStore(sample_store.engine)
    before = len(store.latest(200))
    runs = TrainingRuns(store, StoredBars(sample_store.engine), launcher, record_shadow, RunLimits(30.0))
    with pytest.raises(FailedPrecondition) as refused:
        await runs.start(SPEC, "admin-7")
    assert "a_training_module_not_installed missing" in refused.value.message
    assert "make venv-train" in refused.value.message
    assert len(store.latest(200)) == before
