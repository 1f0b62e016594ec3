"""The training worker as a child process: `python -m ml_engine.training.worker` (this interpreter,
which has the training extra installed; the serving process itself never imports torch), at a lower
priority, with a CPU-time limit and its thread count, reporting progress as JSON lines on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import resource
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ml_engine.training_runs.domain.runs import TrainingRun

log = logging.getLogger("ml_engine.training_runs")

WORKER_MODULE = "ml_engine.training.worker"
DATABASE_URL_ENV = "ML_TRAINING_DATABASE_URL"  # read by the worker (ml_engine/training/worker.py)
WORK_PREFIX = ".training-"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# A progress line longer than this is not one (the rest of the worker's output goes to the log).
LINE_LIMIT = 1 << 16


@dataclass(frozen=True)
class WorkerLimits:
    threads: int = 1
    nice: int = 10
    cpu_limit_s: int = 3600


def work_dir(repository: Path, run_id: str) -> Path:
    """The run's work folder: a dot folder inside the repository (same file system, so the finished
    versions move by rename; the serving scan ignores dot folders)."""
    return repository / f"{WORK_PREFIX}{run_id}"


def worker_command(run: TrainingRun, repository: Path, threads: int) -> list[str]:
    spec = run.spec
    return [
        sys.executable,
        "-m",
        WORKER_MODULE,
        f"--run-id={run.id}",
        f"--family={spec.family}",
        f"--horizon={spec.horizon}",
        f"--symbols={','.join(spec.symbols)}",
        f"--start={spec.start}",
        f"--end={spec.end}",
        f"--folds={spec.folds}",
        f"--threads={threads}",
        f"--repository={repository}",
        f"--work-dir={work_dir(repository, run.id)}",
    ]


class WorkerProcess:
    def __init__(self, process: asyncio.subprocess.Process, work: Path) -> None:
        self.process = process
        self.work = work

    async def lines(self) -> AsyncIterator[dict[str, object]]:
        stdout = self.process.stdout
        assert stdout is not None
        while line := await stdout.readline():
            try:
                parsed = json.loads(line)
            except ValueError:
                log.info("training worker: %s", line.decode(errors="replace").rstrip()[:500])
                continue
            if isinstance(parsed, dict):
                yield parsed

    async def wait(self) -> int:
        return await self.process.wait()

    async def stop(self, grace_s: float) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), grace_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    def discard_work(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


# The training extra (requirements-train.txt) the worker imports; serving installs none of it.
TRAINING_MODULES = ("torch", "onnxscript", "onnxmltools")


class ProcessLauncher:
    """Starts one worker process per run."""

    def __init__(self, repository: Path, database_url: str, limits: WorkerLimits) -> None:
        self.repository = repository
        self.database_url = database_url
        self.limits = limits

    def missing(self) -> str | None:
        """Without the training extra every worker exits at its first import (`make run` installs
        serving only); found without importing anything (torch stays out of serving)."""
        absent = [name for name in TRAINING_MODULES if importlib.util.find_spec(name) is None]
        if not absent:
            return None
        return f"training runs need the training extra ({', '.join(absent)} missing): run make venv-train"

    async def launch(self, run: TrainingRun) -> WorkerProcess:
        env = {**os.environ, DATABASE_URL_ENV: self.database_url}
        env.update({name: str(self.limits.threads) for name in THREAD_VARIABLES})
        limits = self.limits

        def lower_and_limit() -> None:  # in the child, before exec
            os.nice(limits.nice)
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_limit_s, limits.cpu_limit_s + 5))

        process = await asyncio.create_subprocess_exec(
            *worker_command(run, self.repository, limits.threads),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            preexec_fn=lower_and_limit,
            limit=LINE_LIMIT,
        )
        log.info("training worker started", extra={"run_id": run.id, "pid": process.pid})
        return WorkerProcess(process, work_dir(self.repository, run.id))
