"""The supervisor's restart policy on a fake clock and fake children: exponential back-off,
a fresh count after a healthy spell, a start that never gets healthy, the crash-loop report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tools.supervisor import CrashLoop, RestartPolicy, Supervisor, describe_exit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Process:
    returncode: int | None = None


@dataclass
class FakeChild:
    name: str
    healthy: bool = True
    while_down: str = "its routes answer 503"
    process: Process = field(default_factory=Process)
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def ready(self) -> bool:
        return self.healthy

    def crash(self, code: int = -9) -> None:
        self.process.returncode = code

    def kill(self) -> None:
        self.crash(-9)


@dataclass
class FakeStack:
    children: dict[str, Any]
    log_dir: Path | None = None

    def launch(self, name: str) -> None:
        child = self.children[name]
        child.process = Process()
        child.starts += 1

    def log_path(self, name: str) -> Path | None:
        return None if self.log_dir is None else self.log_dir / f"{name}.log"


def supervisor(
    policy: RestartPolicy, log_dir: Path | None = None
) -> tuple[Supervisor, FakeChild, Clock, list[str]]:
    child = FakeChild("ml_engine")
    clock, said = Clock(), []
    running = Supervisor(FakeStack({"ml_engine": child}, log_dir), policy, said.append, clock)  # type: ignore[arg-type]
    running.launch()
    running.tick()
    assert running.healthy
    return running, child, clock, said


def crash_and_restart(running: Supervisor, child: FakeChild, clock: Clock, code: int = -9) -> float:
    """Crash the child, tick until it is started again; returns the wait it got."""
    child.crash(code)
    running.tick()
    crashed_at, starts = clock.now, child.starts
    while child.starts == starts:
        clock.now += 0.25
        running.tick()
    running.tick()
    return clock.now - 0.25 - crashed_at


def test_delays_double_up_to_the_cap() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=30)
    assert [policy.delay_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_restarts_back_off_exponentially_and_count_afresh_after_a_healthy_spell() -> None:
    running, child, clock, said = supervisor(
        RestartPolicy(first_delay_s=1, max_restarts=5, healthy_reset_s=60)
    )
    waits = [crash_and_restart(running, child, clock) for _ in range(3)]
    assert waits == [pytest.approx(1, abs=0.3), pytest.approx(2, abs=0.3), pytest.approx(4, abs=0.3)]
    assert running.healthy
    assert (
        "ml_engine exited unexpectedly (killed by SIGKILL); restarting it in 4s (restart 3 of at most 5"
        in said[-3]
    )
    assert said[-1] == "ml_engine is back: healthy after restart 3"
    clock.now += 61  # healthy for longer than healthy_reset_s
    running.tick()
    assert crash_and_restart(running, child, clock) == pytest.approx(1, abs=0.3)


def test_a_start_that_never_gets_healthy_is_killed_and_counts_as_a_crash() -> None:
    running, child, clock, said = supervisor(RestartPolicy(first_delay_s=1, start_timeout_s=10))
    child.healthy = False
    crash_and_restart(running, child, clock)
    assert not running.healthy
    clock.now += 11
    running.tick()
    assert not child.running
    assert "ml_engine: not healthy 10s after its start; killing it" in said
    assert "restarting it in 2s (restart 2 of" in said[-1]


def test_a_crash_loop_is_given_up_with_a_report(tmp_path: Path) -> None:
    (tmp_path / "ml_engine.log").write_text("starting\nValidationError: ml_execution_provider\n")
    running, child, clock, _ = supervisor(RestartPolicy(first_delay_s=1, max_restarts=2), tmp_path)
    crash_and_restart(running, child, clock, code=1)
    crash_and_restart(running, child, clock, code=1)
    child.crash(1)
    with pytest.raises(CrashLoop) as loop:
        running.tick()
    report = str(loop.value)
    assert report.startswith(
        "ml_engine is crash-looping: it exited 3 times in a row without staying up "
        "(exit code 1, exit code 1, exit code 1); giving up after 2 restarts."
    )
    assert f"The end of its log ({tmp_path / 'ml_engine.log'}):\n  starting\n  ValidationError" in report


def test_exits_are_described() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"


def test_a_child_that_dies_while_starting_is_reported_with_the_end_of_its_log(tmp_path: Path) -> None:
    from tools.supervisor import Child, Stack

    stack = Stack(env={"PATH": "/usr/bin:/bin"}, log_dir=tmp_path)
    stack.children = {
        "broken": Child(
            "broken", ["sh", "-c", "echo first line; echo cannot bind 1.2.3.4; exit 3"], lambda: False
        )
    }
    with pytest.raises(RuntimeError) as failed:
        stack.start(timeout_s=10)
    assert "broken exited during start-up (exit code 3)" in str(failed.value)
    assert "cannot bind 1.2.3.4" in str(failed.value)
