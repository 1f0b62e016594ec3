"""`make run`'s supervisor (`python -m tools.supervisor`, run for real on free ports): everything
up, URLs printed, SIGTERM stops every child; a child killed with SIGKILL under load comes back
while the others keep serving and Envoy keeps running (issue 13.1); a crash loop is given up after
a bounded number of restarts with a clear report, and everything stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import private_stack_env

ROOT = Path(__file__).resolve().parents[2]
# How each child shows in its command line.
COMMANDS = {
    "ml_engine": "ml_engine.main",
    "business": "business.main",
    "gateway": "-m\0gateway",
    "envoy": "envoy/_bin/envoy",
}


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:  # it has exited
        return found
    for task in tasks:
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:  # a thread (gRPC's) ended meanwhile
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie is already dead


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what}"
        time.sleep(0.1)


@dataclass
class Supervised:
    """A `python -m tools.supervisor` process; its output (and its children's) is collected."""

    proc: subprocess.Popen[str]
    edge: str
    output: list[str] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.output))

    def tail(self) -> str:
        return "".join(line for line in self.output[-60:] if not line.startswith("{"))

    def wait_said(self, text: str, timeout_s: float) -> None:
        _wait(lambda: self.said(text) or self.proc.poll() is not None, timeout_s, repr(text))
        assert self.said(text), (self.proc.returncode, self.tail())

    def pids(self) -> dict[str, int]:
        """The current child of each name."""
        found = {}
        for pid in _children(self.proc.pid):
            self.seen.add(pid)
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_text()
            except FileNotFoundError:
                continue
            for name, marker in COMMANDS.items():
                if marker in cmdline and _alive(pid):
                    found[name] = pid
        return found

    def exited(self, timeout_s: float = 30) -> int:
        """Its exit code, once it has exited and all its output has been read."""
        code = self.proc.wait(timeout_s)
        self._reader.join(timeout_s)
        return code

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.exited()
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.exited()


def supervise(tmp_path: Path, *args: str, **overrides: str) -> Supervised:
    env, edge = private_stack_env(tmp_path)
    env.update(overrides)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.supervisor", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives `make run`
    )
    return Supervised(proc, edge)


def test_supervisor_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    running = supervise(tmp_path)
    try:
        running.wait_said("Ctrl-C stops everything", 90)
        assert running.said(f"{running.edge}/health")
        assert httpx.get(f"{running.edge}/health").json()["status"] == "ok"
        children = _children(running.proc.pid)
        assert len(children) == 4
        assert running.stop() == 0
        time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "orphaned children after SIGTERM"
    finally:
        running.stop()


# --- kill -9 under load -------------------------------------------------------------------


@dataclass
class Reply:
    at: float
    route: str
    status: int  # 0: no answer at all (connection refused or reset)
    health: str = ""  # /health's "status" field


class Load:
    """Calls one route of each upstream in a loop, as a client would, and keeps every answer."""

    def __init__(self, edge: str, user_token: str) -> None:
        auth = {"authorization": f"Bearer {user_token}"}
        self.routes = {
            "ml": (f"{edge}/api/stats", auth),
            "business": (f"{edge}/api/users/me", auth),
            "health": (f"{edge}/health", {}),
            "gateway": (f"{edge}/api/docs/openapi.json", {}),
        }
        self.replies: list[Reply] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                for route, (url, headers) in self.routes.items():
                    self.replies.append(self._call(client, route, url, headers))
                time.sleep(0.02)

    @staticmethod
    def _call(client: httpx.Client, route: str, url: str, headers: dict[str, str]) -> Reply:
        try:
            reply = client.get(url, headers=headers)
        except httpx.TransportError:
            return Reply(time.monotonic(), route, 0)
        health = reply.json().get("status", "") if route == "health" and reply.status_code == 200 else ""
        return Reply(time.monotonic(), route, reply.status_code, health)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def since(self, start: float, route: str) -> list[Reply]:
        return [r for r in list(self.replies) if r.at >= start and r.route == route]

    def ok_since(self, start: float, route: str, count: int = 3) -> bool:
        """`count` answers in a row of 200 after `start`, the last ones."""
        replies = self.since(start, route)
        return len(replies) >= count and all(r.status == 200 for r in replies[-count:])


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    running = supervise(tmp_path_factory.mktemp("supervised"), "--backoff-s", "0.5")
    try:
        running.wait_said("Ctrl-C stops everything", 120)
        yield running
        assert running.stop() == 0, running.tail()
    finally:
        running.stop()


@pytest.fixture(scope="module")
def user_token(supervised: Supervised) -> str:
    account = {"email": f"e2e-{uuid.uuid4().hex[:10]}@example.com", "password": "correct horse battery 42"}
    assert httpx.post(f"{supervised.edge}/api/auth/register", json=account, timeout=30).status_code == 200
    reply = httpx.post(f"{supervised.edge}/api/auth/login", json=account, timeout=30)
    token: str = reply.json()["tokens"]["accessToken"]
    return token


def kill_under_load(supervised: Supervised, user_token: str, name: str) -> tuple[Load, float]:
    """SIGKILL the child `name` while every route is called, until every route answers 200
    again; returns the load and when the kill happened."""
    before = supervised.pids()
    assert set(before) == set(COMMANDS), supervised.tail()
    with Load(supervised.edge, user_token) as load:
        started = time.monotonic()
        _wait(lambda: all(load.ok_since(started, route) for route in load.routes), 30, "steady load")
        killed = time.monotonic()
        os.kill(before[name], signal.SIGKILL)
        supervised.wait_said(f"{name} exited unexpectedly (killed by SIGKILL)", 10)
        supervised.wait_said(f"{name} is back", 120)
        _wait(
            lambda: all(load.ok_since(time.monotonic() - 5, route) for route in load.routes), 30, "recovery"
        )
        time.sleep(0.5)
    after = supervised.pids()
    assert after[name] != before[name]  # a new process answers
    # Nothing else was restarted: Envoy least of all.
    assert {k: v for k, v in after.items() if k != name} == {k: v for k, v in before.items() if k != name}
    assert supervised.proc.poll() is None
    return load, killed


def statuses(replies: list[Reply]) -> set[int]:
    return {r.status for r in replies}


# Who dies, which routes keep answering 200 throughout, which answer 503 (never 500) meanwhile.
KILLS = {
    "ml_engine": ({"business", "health", "gateway"}, {"ml"}),
    "business": ({"ml", "gateway"}, {"business", "health"}),  # /health is business's
    "gateway": ({"ml", "business", "health"}, {"gateway"}),
}


@pytest.mark.parametrize("name", list(KILLS))
def test_a_killed_service_comes_back_while_the_rest_keeps_serving(
    supervised: Supervised, user_token: str, name: str
) -> None:
    load, killed = kill_under_load(supervised, user_token, name)
    served, down = KILLS[name]
    for route in served:
        assert statuses(load.since(killed, route)) == {200}, route
    for route in down:  # 503 while it was away, 200 again after its restart
        assert statuses(load.since(killed, route)) == {200, 503}, route
    if name == "ml_engine":  # /health said degraded meanwhile, ok again afterwards
        assert "degraded" in [r.health for r in load.since(killed, "health")]
        _wait(lambda: httpx.get(f"{supervised.edge}/health").json()["status"] == "ok", 30, "health ok")


def test_a_killed_envoy_comes_back_on_the_same_port(supervised: Supervised, user_token: str) -> None:
    load, killed = kill_under_load(supervised, user_token, "envoy")
    for route in load.routes:
        assert 0 in statuses(load.since(killed, route)), route  # the edge was really gone
        assert statuses(load.since(killed, route)) <= {0, 200, 503}, route


@pytest.fixture
def own_supervised(tmp_path: Path) -> Iterator[Supervised]:
    """A stack of the test's own: the module's stack has had its ML engine killed by the tests
    above, and its replay's position would decide when the alert rules below first fire."""
    # Stores of its own too: the session stack's alert rules move the shared store's alert cursor
    # (the last evaluated bar) on, and this stack's replay resumes after it.
    running = supervise(
        tmp_path,
        "--backoff-s",
        "0.5",
        DATABASE_URL=f"sqlite:///{tmp_path / 'business.db'}",
        MYSQL_HOST="",
        REDIS_URL="",
    )
    try:
        running.wait_said("Ctrl-C stops everything", 120)
        yield running
    finally:
        running.stop()


def test_alerts_keep_firing_once_when_the_ml_engine_restarts(own_supervised: Supervised) -> None:
    """Business follows the prediction stream for alert rules; a killed ML engine comes back: business
    reopens the stream by itself, resuming after the last bar it evaluated (the new engine's replay
    starts there), so alerts go on firing on new bars, none delivered or stored twice, and the
    user's alert stream stays open."""
    import queue

    from tests.e2e import grpc_web
    from trading.alerts.v1 import alert_service_pb2 as alert_pb

    supervised = own_supervised
    account = {"email": f"e2e-{uuid.uuid4().hex[:10]}@example.com", "password": "correct horse battery 42"}
    assert httpx.post(f"{supervised.edge}/api/auth/register", json=account, timeout=30).status_code == 200
    login = httpx.post(f"{supervised.edge}/api/auth/login", json=account, timeout=30)
    auth = {"authorization": f"Bearer {login.json()['tokens']['accessToken']}"}
    history = httpx.get(
        f"{supervised.edge}/api/history/EURUSD?limit=1000&timeframe=1h", headers=auth, timeout=30
    )
    closes = [bar["close"] for bar in history.json()["bars"]]
    low, high = min(closes), max(closes)
    for i in range(1, 61):  # a grid of levels over the replayed window: the replay crosses some soon
        rule = {
            "symbol": "EURUSD",
            "kind": "ALERT_KIND_PRICE_CROSS",
            "level": round(low + (high - low) * i / 61, 6),
            "direction": "CROSS_DIRECTION_ANY",
        }
        reply = httpx.post(f"{supervised.edge}/api/alerts/rules", json=rule, headers=auth, timeout=30)
        assert reply.status_code == 200, reply.text
    received: queue.Queue[alert_pb.Alert] = queue.Queue()

    def read() -> None:
        url = f"{supervised.edge}/trading.alerts.v1.AlertService/StreamAlerts"
        try:
            for frame in grpc_web.stream(url, alert_pb.StreamAlertsRequest(), auth, 600):
                received.put(alert_pb.StreamAlertsResponse.FromString(frame).alert)
        except httpx.HTTPError:
            return  # the stack stops after the test: the stream with it

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen = [received.get(timeout=180)]
    before = supervised.pids()["ml_engine"]
    os.kill(before, signal.SIGKILL)
    _wait(lambda: supervised.pids().get("ml_engine") not in (None, before), 120, "a new ml_engine")
    while not received.empty():
        seen.append(received.get_nowait())
    last_before = max(a.bar_time.seconds for a in seen)
    # Resumed after the last evaluated bar: an alert on a newer bar comes without waiting for a
    # replay from the start to catch up.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and max(a.bar_time.seconds for a in seen) <= last_before:
        try:
            seen.append(received.get(timeout=1.0))
        except queue.Empty:
            continue
    assert max(a.bar_time.seconds for a in seen) > last_before, "no alert on a new bar after the restart"
    assert reader.is_alive(), "the user's alert stream ended with the ML engine"
    fired = [(a.rule_id, a.bar_time.seconds) for a in seen]
    assert len(fired) == len(set(fired)), "an alert was delivered twice"
    stored = httpx.get(f"{supervised.edge}/api/alerts?limit=200", headers=auth, timeout=30).json()["alerts"]
    pairs = [(a["ruleId"], a["barTime"]) for a in stored]
    assert len(pairs) == len(set(pairs))


# Last of the tests on the module's stack: it stops it.
def test_ctrl_c_stops_everything_and_restarts_nothing(supervised: Supervised) -> None:
    # A terminal's Ctrl-C: SIGINT to the whole process group, the children included.
    children = set(supervised.pids().values())
    said = len(supervised.output)
    os.killpg(supervised.proc.pid, signal.SIGINT)
    assert supervised.exited() == 0, supervised.tail()
    time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "orphaned children after Ctrl-C"
    assert not [line for line in supervised.output[said:] if "supervisor:" in line], supervised.tail()
    assert supervised.said("stopped.")


def test_a_crash_loop_is_reported_and_given_up(tmp_path: Path) -> None:
    # A bad setting: the ML engine exits at once, every time.
    running = supervise(
        tmp_path, "--backoff-s", "0.2", "--max-restarts", "2", ML_EXECUTION_PROVIDER="not-a-provider"
    )
    try:
        # Note every child started on the way (running.seen) until the supervisor gives up.
        _wait(lambda: not running.pids() and running.proc.poll() is not None, 120, "the supervisor's exit")
        code = running.exited()
    finally:
        running.stop()
    assert code == 1, running.tail()
    assert running.said(
        "ml_engine exited unexpectedly (exit code 1); restarting it in 0.2s (restart 1 of at"
    ), running.tail()
    assert running.said("ml_engine exited unexpectedly (exit code 1); restarting it in 0.4s (restart 2 of at")
    assert running.said(
        "supervisor: ml_engine is crash-looping: it exited 3 times in a row without staying up "
        "(exit code 1, exit code 1, exit code 1); giving up after 2 restarts."
    ), running.tail()
    assert running.said("supervisor: stopping everything.")
    causes = sum("ml_execution_provider" in line for line in running.output)
    assert causes == 3, running.tail()  # the cause, once per start
    time.sleep(0.2)
    assert len(running.seen) >= 4, running.tail()  # the others had started
    assert not [pid for pid in running.seen if _alive(pid)], "orphaned children after giving up"


# --- alerts across an ML engine restart ---------------------------------------------------
