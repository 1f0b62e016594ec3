"""`make run`'s supervisor: everything up, URLs printed, SIGTERM stops every child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import stack_env
from tests.support.ports import free_ports

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.update(int(c) for c in children)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie is already dead


def test_supervisor_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    envoy, admin, business, ml, gateway = free_ports(5)
    env.update(
        ENVOY_PORT=str(envoy),
        ENVOY_ADMIN_PORT=str(admin),
        BUSINESS_GRPC_PORT=str(business),
        ML_GRPC_PORT=str(ml),
        GATEWAY_PORT=str(gateway),
        BUSINESS_METRICS_PORT="0",
        ML_METRICS_PORT="0",
        ML_SERVICE_URL=f"127.0.0.1:{ml}",
        CORS_ALLOWED_ORIGINS=f"http://127.0.0.1:{gateway}",
        PUBLIC_API_URL="",
    )
    errors = tmp_path / "supervisor.stderr"
    with open(errors, "wb") as stderr:  # the child keeps its own handle
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.supervisor"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:  # the supervisor exited: no point waiting for the deadline
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        started = any(f"http://127.0.0.1:{envoy}/health" in line for line in lines)
        assert started, (proc.poll(), lines[-20:], errors.read_text()[-4000:])
        assert httpx.get(f"http://127.0.0.1:{envoy}/health").json()["status"] == "ok"
        children = _children(proc.pid)
        assert len(children) == 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "orphaned children after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
