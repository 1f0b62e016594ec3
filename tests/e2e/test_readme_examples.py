"""The README's examples, as a newcomer runs them (issue 13.12): its `buf curl` ops commands,
read from the README and pointed at the test stack's ports, succeed; the history bar and the
strategies it shows are the ones served; what it says of 401s is what the edge answers."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import EDGE, ML_PORT, bearer
from tools.supervisor import Stack

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def shell_lines(text: str) -> list[str]:
    """The commands of the README's bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#\s.*$", "", command).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


# The ops commands: buf curl through Envoy or on a service port, needing a token at most.
BUF_CURLS = [
    line
    for line in shell_lines(README)
    if line.startswith(".venv/bin/buf curl") and " -d " not in line and "StreamPredictions" not in line
]


def on_test_ports(command: str) -> str:
    return command.replace("http://127.0.0.1:8080", EDGE).replace("127.0.0.1:50052", f"127.0.0.1:{ML_PORT}")


def test_the_readme_shows_its_ops_commands() -> None:
    assert len(BUF_CURLS) >= 5
    assert any("StatusService/GetHealth" in line for line in BUF_CURLS)


@pytest.mark.parametrize("command", BUF_CURLS, ids=lambda c: c.split("http://127.0.0.1:")[-1])
def test_each_buf_curl_of_the_readme_works(stack: Stack, token: str, command: str) -> None:
    env = dict(os.environ, TOKEN=token, H=f"Authorization: Bearer {token}")
    done = subprocess.run(
        ["bash", "-c", on_test_ports(command)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, (command, done.stderr)
    assert done.stdout.strip()


def test_the_history_bar_shown_is_the_first_one_served(stack: Stack, token: str) -> None:
    request = "/api/history/EURUSD?limit=500&timeframe=1h"
    shown = re.search(re.escape(request) + r"'\n# \{.*?\"bars\":\[\{\"time\":\"([^\"]+)\"", README)
    assert shown, "the README's history example"
    bars = httpx.get(f"{EDGE}{request}", headers=bearer(token), timeout=30).json()["bars"]
    assert bars[0]["time"] == shown.group(1)


def test_the_strategies_listed_are_the_ones_served(stack: Stack, token: str) -> None:
    shown = re.search(r"/api/strategies\s+# (.+)", README)
    assert shown, "the README's strategies example"
    served = httpx.get(f"{EDGE}/api/strategies", headers=bearer(token), timeout=30).json()["strategies"]
    assert [s.strip() for s in shown.group(1).split(",")] == [s["name"] for s in served]


def test_what_the_readme_says_of_401s_holds(stack: Stack) -> None:
    spec = httpx.get(f"{EDGE}/api/docs/openapi.json", timeout=30).json()
    protected = [
        re.sub(r"\{[^}]+\}", "X", path)
        for path, operations in spec["paths"].items()
        if "get" in operations and operations["get"].get("security")
    ]
    assert len(protected) > 10
    for path in protected:  # "REST: 401 with a JSON body on every API route"
        reply = httpx.get(f"{EDGE}{path}", timeout=30)
        assert reply.status_code == 401, path
        assert reply.headers["content-type"].startswith("application/json"), path
    # "every other path goes to the gateway ... and the 404 JSON of an unknown route"
    stray = httpx.get(f"{EDGE}/api/no-such-route", timeout=30)
    assert stray.status_code == 404
    assert stray.json()["error"] == "not_found"
    assert "the 404 JSON of an unknown route" in README.replace("\n  ", " ")
