"""The web app's browser flows (web/e2e/flows) in a real Chromium against the real stack.

The stack is web/e2e/stack.sh, the one a developer runs by hand (same settings: a maildir the
flows read the mails from, an admin, short access tokens so the silent refresh is seen), here on
free ports with its state in a temporary folder, and with the suite's OpenID Connect provider
(`oidc_provider`) so the OAuth flow goes through the gateway's real callback. Each flow file is
one test (`node --test`); a failure shows the node test runner's report of what failed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.oidc_provider import OidcProvider
from tests.support.ports import free_ports
from tools.supervisor import ROOT

FLOWS = sorted((ROOT / "web" / "e2e" / "flows").glob("*.e2e.test.mjs"))
FLOW_TIMEOUT_S = 240


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # stack.sh's trap stops what it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser_stack(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[dict[str, str]]:
    """web/e2e/stack.sh on free ports; yields the E2E_* variables it prints."""
    built = ROOT / "web" / "dist" / "index.html"
    assert built.exists(), "web/dist is missing: run `make web` first"
    newer = [p for p in (ROOT / "web" / "src").rglob("*") if p.stat().st_mtime > built.stat().st_mtime]
    assert not newer, f"web/dist is older than {newer[0].relative_to(ROOT)}: run `make web` first"
    state = tmp_path_factory.mktemp("browser-stack")
    envoy, envoy_admin, gateway, business, ml, smtp = free_ports(6)
    env = {
        **os.environ,
        **oidc_provider.env(),
        "E2E_STATE_DIR": str(state / "stack"),  # wiped by stack.sh at start
        "ENVOY_PORT": str(envoy),
        "ENVOY_ADMIN_PORT": str(envoy_admin),
        "GATEWAY_PORT": str(gateway),
        "BUSINESS_GRPC_PORT": str(business),
        "ML_GRPC_PORT": str(ml),
        "E2E_SMTP_PORT": str(smtp),
        "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "MYSQL_HOST"):  # the stack's own SQLite files, no Redis
        env.pop(name, None)
    output = state / "stack.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            ["bash", str(ROOT / "web" / "e2e" / "stack.sh")],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 150
        while "stack ready" not in output.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                logs = state / "stack" / "logs" / "supervisor.log"
                tail = logs.read_text()[-4000:] if logs.exists() else ""
                pytest.fail(f"web/e2e/stack.sh did not start:\n{output.read_text()}\n{tail}", pytrace=False)
            time.sleep(0.5)
        variables = dict(re.findall(r"^export (E2E_\w+)=(.*)$", output.read_text(), re.MULTILINE))
        _warm_up(variables)
        # The screenshots flow checks each main page at desktop and phone width; its pictures go
        # to docs/ only when asked (UPDATE_SCREENSHOTS=1).
        shots = ROOT / "docs" if os.environ.get("UPDATE_SCREENSHOTS") else state / "screenshots"
        # The flows get the test provider's settings too (its /test controls pick who signs in).
        yield {
            **oidc_provider.env(),
            **variables,
            "E2E_ARTIFACTS": str(state / "artifacts"),
            "E2E_SCREENSHOT_DIR": str(shots),
            "E2E_OIDC_URL": oidc_provider.issuer,
        }
    finally:
        _stop(process)


def _warm_up(variables: dict[str, str]) -> None:
    """Waits until the stack answers what the first flow needs: every dependency of /health up
    (the ML engine too) and a mail on its way to the maildir (on a busy machine the first ones
    are slow, and a flow's own waits are sized for a warm stack)."""
    api, mail = variables["E2E_API_URL"], Path(variables["E2E_MAIL_DIR"])
    deadline = time.monotonic() + 90
    while True:
        health = httpx.get(f"{api}/health", timeout=10)
        states = {d["name"]: d["state"] for d in health.json().get("dependencies", [])}
        if health.status_code == 200 and all(s.endswith(("_UP", "_DISABLED")) for s in states.values()):
            break
        assert time.monotonic() < deadline, f"the stack's dependencies are not up: {states}"
        time.sleep(0.5)
    email = f"warm-up-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "warm-up-Staple-battery-42"}
    assert httpx.post(f"{api}/api/auth/register", json=body, timeout=30).status_code == 200
    while not any(email in p.read_text(errors="replace") for p in (mail / "new").iterdir()):
        assert time.monotonic() < deadline, "the stack sent no mail to the maildir"
        time.sleep(0.5)


def _failures(report: str) -> str:
    """The failing tests of a node --test (TAP) report, with their error messages."""
    blocks = re.findall(r"^not ok \d+ - .*?(?=^# Subtest|^(?:ok|not ok) \d+ - |\Z)", report, re.M | re.S)
    return "\n".join(blocks) or report[-6000:]


@pytest.mark.browser
@pytest.mark.parametrize("flow", FLOWS, ids=[flow.name.removesuffix(".e2e.test.mjs") for flow in FLOWS])
def test_browser_flow(browser_stack: dict[str, str], flow: Path) -> None:
    node = shutil.which("node")
    assert node, "node is required for the browser flows"
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", str(flow.relative_to(ROOT / "web"))],
        cwd=ROOT / "web",
        capture_output=True,
        text=True,
        timeout=FLOW_TIMEOUT_S,
        env={**os.environ, **browser_stack},
    )
    assert result.returncode == 0, (
        f"{flow.name} failed (failure screenshots in {browser_stack['E2E_ARTIFACTS']}):\n"
        + _failures(result.stdout)
        + result.stderr[-2000:]
    )
    assert re.search(r"^# pass [1-9]", result.stdout, re.M), "no test ran:\n" + result.stdout + result.stderr
