"""Local process supervisor: `make run` (`python -m tools.supervisor`, from the repo root)
starts ml_engine, business, gateway and Envoy, waits until every health check passes, prints the
URLs, and on Ctrl-C/SIGTERM stops them all (Envoy first, so no new traffic reaches a stopping
service). Children also die with the supervisor if it is killed outright (PR_SET_PDEATHSIG), so
nothing is left orphaned.

A child that exits on its own is started again, as Kubernetes' `restartPolicy: Always` does:
after an exponential back-off (`RestartPolicy`), while the others keep serving (Envoy answers
503 / UNAVAILABLE for the missing upstream, `/health` reports `degraded` while the ML engine is
away). A child that keeps exiting (a crash loop, e.g. a bad setting) is given up after a bounded
number of restarts in a row: the supervisor says so, stops everything and exits non-zero.

Tests and benchmarks drive the same `Stack` class to run the real system.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from envoy.binary import envoy_binary
from envoy.render import write
from envoy.settings import EdgeSettings
from service_runtime.defaults import LOOPBACK
from tools.die_with_parent import under_parent

ROOT = Path(__file__).resolve().parent.parent


def grpc_serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@dataclass
class Child:
    name: str
    argv: list[str]
    ready: Callable[[], bool]
    # What callers see while it is away (the supervisor's restart message says it).
    while_down: str = "its routes answer 503 / UNAVAILABLE"
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str], log: IO[bytes] | None) -> None:
        self.process = subprocess.Popen(
            under_parent(self.argv),  # SIGTERM it when the supervisor goes away
            cwd=ROOT,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Abrupt death (SIGKILL), as a crash would look."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()


@dataclass
class Stack:
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    log_dir: Path | None = None
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The stack's own environment decides its ports (tests pass theirs in `env`).
        self.edge = edge = EdgeSettings.from_environment(self.env)
        # Envoy runs from the repo root (`cwd` below), where the config's relative paths lead.
        self.envoy_config = write(edge, ROOT / "build" / "envoy" / f"envoy-{edge.envoy_port}.json")
        py = sys.executable
        self.urls = {
            # Through the edge, like the mailed links: its origin is the one the refresh cookie is set for.
            "web app": f"http://{LOOPBACK}:{edge.envoy_port}/",
            "REST/gRPC-Web/gRPC (Envoy)": f"http://{LOOPBACK}:{edge.envoy_port}",
            "health": f"http://{LOOPBACK}:{edge.envoy_port}/health",
            "API docs": f"http://{LOOPBACK}:{edge.envoy_port}/api/docs",
        }
        business = f"{edge.business.host}:{edge.business.port}"
        ml = f"{edge.ml_engine.host}:{edge.ml_engine.port}"
        # business reaches the ML engine wherever this stack put it.
        self.env.setdefault("ML_SERVICE_URL", ml)
        gateway_url = f"http://{edge.gateway.host}:{edge.gateway.port}"
        admin = f"http://{LOOPBACK}:{edge.envoy_admin_port}"
        for child in (
            Child(
                "ml_engine",
                [py, "-m", "ml_engine.main"],
                lambda: grpc_serving(ml),
                "ML routes answer 503 / UNAVAILABLE and /health reports degraded",
            ),
            Child(
                "business",
                [py, "-m", "business.main"],
                lambda: grpc_serving(business),
                "its routes, /health included, answer 503 / UNAVAILABLE",
            ),
            Child(
                "gateway",
                [py, "-m", "gateway"],
                lambda: http_ok(f"{gateway_url}/healthz"),
                "the web app, API docs, OAuth and dev tokens answer 503",
            ),
            Child(
                "envoy",
                [
                    str(envoy_binary()),
                    "-c",
                    str(self.envoy_config),
                    "--log-level",
                    "warn",
                    "--base-id",
                    str(edge.envoy_port),
                    "--drain-time-s",
                    "2",
                    "--concurrency",
                    str(edge.workers),
                ],
                lambda: http_ok(f"{admin}/ready"),
                "nothing is reachable through the edge",
            ),
        ):
            self.children[child.name] = child

    def log_path(self, name: str) -> Path | None:
        """Where a child's output goes; None: the supervisor's own stdout."""
        return None if self.log_dir is None else self.log_dir / f"{name}.log"

    def launch(self, name: str) -> None:
        """Start one child without waiting for its health."""
        path = self.log_path(name)
        if path is None:
            self.children[name].start(self.env, None)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as log:  # the child keeps its own handle
            self.children[name].start(self.env, log)

    def start_child(self, name: str, timeout_s: float = 60.0) -> None:
        self.launch(name)
        self.wait_ready([name], timeout_s)

    def wait_ready(self, names: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(names)
        while pending:
            for name in list(pending):
                child = self.children[name]
                if not child.running:
                    code = child.process.returncode if child.process else None
                    raise RuntimeError(
                        f"{name} exited during start-up (exit code {code}){self._log_tail(name)}"
                    )
                if child.ready():
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {timeout_s:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.1)

    def _log_tail(self, name: str, lines: int = 20) -> str:
        """The end of a child's log, so a failed start says why without a hunt for the file."""
        path = self.log_path(name)
        if path is None or not path.exists():
            return ""
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        return f"; the end of {path}:\n" + "\n".join(tail)

    def start(self, timeout_s: float = 90.0) -> None:
        try:
            for name in self.children:
                self.launch(name)
            self.wait_ready(list(self.children), timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # Edge first, then the services that depend on others, then the rest.
        for name in ("envoy", "gateway", "business", "ml_engine"):
            if name in self.children:
                self.children[name].stop()


@dataclass(frozen=True)
class RestartPolicy:
    """When a child that exited is started again, and when the supervisor gives up.

    The n-th restart in a row waits `first_delay_s * 2**(n-1)`, at most `max_delay_s` (Kubernetes:
    10 s doubling up to 5 min; a local run is quicker). A child that stays healthy for
    `healthy_reset_s` starts counting afresh. One that needs a restart after `max_restarts` in a
    row is crash-looping: the supervisor gives up. A child not healthy `start_timeout_s` after
    its start is killed and counts as a crash.
    """

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_restarts: int = 5
    healthy_reset_s: float = 60.0
    start_timeout_s: float = 180.0

    def delay_s(self, restart: int) -> float:
        """The wait before the `restart`-th restart in a row (1-based)."""
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (restart - 1)))


class CrashLoop(RuntimeError):
    """A child kept exiting: the supervisor gave up on it."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class Watch:
    """The supervisor's view of one child."""

    name: str
    state: str = "starting"  # starting -> up; on exit: waiting -> starting
    since: float = 0.0  # when the current state began (monotonic)
    restarts: int = 0  # restarts in a row, not yet followed by healthy_reset_s of health
    restart_at: float = 0.0
    exits: list[str] = field(default_factory=list)


class Supervisor:
    """Keeps a `Stack` running: restarts children that exit, with back-off, until told to stop
    or until one of them crash-loops (`CrashLoop`). Run `run()` in the main thread: a child's
    PR_SET_PDEATHSIG follows the thread that started it."""

    def __init__(
        self,
        stack: Stack,
        policy: RestartPolicy | None = None,
        say: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.policy = policy or RestartPolicy()
        self.say = say or (lambda line: print(f"supervisor: {line}", flush=True))
        self.clock = clock
        self.watches = {name: Watch(name, since=clock()) for name in stack.children}

    @property
    def healthy(self) -> bool:
        return all(watch.state == "up" for watch in self.watches.values())

    def launch(self) -> None:
        """Start every child not running yet; `tick()` then follows them to health."""
        for name, child in self.stack.children.items():
            if not child.running:
                self.stack.launch(name)

    def tick(self, stopping: Callable[[], bool] = lambda: False) -> None:
        now = self.clock()
        for watch in self.watches.values():
            if stopping():  # Ctrl-C reaches the children too: their exits are no crashes
                return
            self._follow(watch, now)

    def _follow(self, watch: Watch, now: float) -> None:
        child = self.stack.children[watch.name]
        if watch.state == "waiting":
            if now >= watch.restart_at:
                self.say(
                    f"{watch.name}: restarting it (restart {watch.restarts} of {self.policy.max_restarts})"
                )
                self.stack.launch(watch.name)
                watch.state, watch.since = "starting", now
            return
        if not child.running:
            self._exited(watch, child, now)
        elif watch.state == "starting":
            if child.ready():
                if watch.restarts:
                    self.say(f"{watch.name} is back: healthy after restart {watch.restarts}")
                watch.state, watch.since = "up", now
            elif now - watch.since > self.policy.start_timeout_s:
                limit = self.policy.start_timeout_s
                self.say(f"{watch.name}: not healthy {limit:g}s after its start; killing it")
                child.kill()
                self._exited(watch, child, now)
        elif watch.restarts and now - watch.since >= self.policy.healthy_reset_s:
            # It stayed healthy: the next crash starts a fresh count.
            watch.restarts = 0
            watch.exits.clear()

    def _exited(self, watch: Watch, child: Child, now: float) -> None:
        how = describe_exit(child.process.returncode if child.process else None)
        watch.exits.append(how)
        if watch.restarts >= self.policy.max_restarts:
            raise CrashLoop(self._crash_loop_report(watch))
        watch.restarts += 1
        delay = self.policy.delay_s(watch.restarts)
        watch.state, watch.restart_at = "waiting", now + delay
        self.say(
            f"{watch.name} exited unexpectedly ({how}); restarting it in {delay:g}s (restart "
            f"{watch.restarts} of at most {self.policy.max_restarts} in a row). Meanwhile "
            f"{child.while_down}; the other services keep serving."
        )

    def _crash_loop_report(self, watch: Watch) -> str:
        lines = [
            f"{watch.name} is crash-looping: it exited {len(watch.exits)} times in a row without "
            f"staying up ({', '.join(watch.exits)}); giving up after {self.policy.max_restarts} restarts.",
        ]
        log = self.stack.log_path(watch.name)
        if log is None:
            lines.append("Its output is above: fix the cause (a setting?) and start again.")
        elif log.exists():
            tail = log.read_text(errors="replace").splitlines()[-20:]
            lines.append(f"The end of its log ({log}):")
            lines.extend(f"  {line}" for line in tail)
        return "\n".join(lines)

    def run(self, stopping: Callable[[], bool], on_healthy: Callable[[], None] = lambda: None) -> None:
        """Follow the children until `stopping()`; `on_healthy` runs the first time all are up.
        Raises CrashLoop when a child is given up."""
        announced = False
        while not stopping():
            self.tick(stopping)
            if not announced and self.healthy:
                announced = True
                on_healthy()
            time.sleep(0.2)


def parse_args(argv: list[str] | None = None) -> RestartPolicy:
    parser = argparse.ArgumentParser(
        prog="python -m tools.supervisor", description="Run the whole system locally."
    )
    defaults = RestartPolicy()
    parser.add_argument(
        "--max-restarts",
        type=int,
        default=defaults.max_restarts,
        help="restarts in a row before a crash-looping service is given up (default %(default)s)",
    )
    parser.add_argument(
        "--backoff-s",
        type=float,
        default=defaults.first_delay_s,
        help="wait before the first restart, doubled for each further one (default %(default)s)",
    )
    parser.add_argument(
        "--max-backoff-s",
        type=float,
        default=defaults.max_delay_s,
        help="longest wait before a restart (default %(default)s)",
    )
    args = parser.parse_args(argv)
    return RestartPolicy(
        first_delay_s=args.backoff_s, max_delay_s=args.max_backoff_s, max_restarts=args.max_restarts
    )


def main(argv: list[str] | None = None) -> int:
    policy = parse_args(argv)
    env = dict(os.environ)
    # A local run on embedded defaults mints demo tokens for the web page.
    env.setdefault("DEV_TOKENS_ENABLED", "true")
    stack = Stack(env=env)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    def print_urls() -> None:
        width = max(len(k) for k in stack.urls)
        print("\nall services healthy:", flush=True)
        for label, url in stack.urls.items():
            print(f"  {label:<{width}}  {url}", flush=True)
        print("\nCtrl-C stops everything.", flush=True)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print("starting ml_engine, business, gateway and envoy ...", flush=True)
    supervisor = Supervisor(stack, policy)
    code = 0
    try:
        supervisor.launch()
        supervisor.run(lambda: stopping, on_healthy=print_urls)
    except CrashLoop as loop:
        print(f"\nsupervisor: {loop}\nsupervisor: stopping everything.", file=sys.stderr, flush=True)
        code = 1
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
