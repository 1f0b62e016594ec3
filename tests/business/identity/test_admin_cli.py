"""`make admin` (business.identity.admin_cli) as scripts run it: without a terminal it says what
to do in one line and exits 2, never a traceback; --password-stdin reads the password from a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery staple 42"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "APP_ENV"}}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/business.db",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="8192",
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "gen" / "python")]),
    )
    return env


def _admin(
    tmp_path: Path,
    *args: str,
    stdin: int | None = None,
    data: str | None = None,
    shell_close_stdin: bool = False,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "business.identity.admin_cli",
        "create-admin",
        "--email",
        "root@example.com",
        *args,
    ]
    if shell_close_stdin:
        # stdin closed altogether (`<&-`), as some schedulers start jobs.
        quoted = " ".join(f"'{part}'" for part in command)
        return subprocess.run(
            ["bash", "-c", f"exec {quoted} <&-"],
            cwd=REPO,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    return subprocess.run(
        command,
        cwd=REPO,
        env=_env(tmp_path),
        input=data,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _admins(tmp_path: Path) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{tmp_path}/business.db")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT email, role FROM users"))]
    finally:
        engine.dispose()


def _one_line_refusal(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "EOFError" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr


def test_without_a_terminal_it_says_to_use_password_stdin(tmp_path: Path) -> None:
    _one_line_refusal(_admin(tmp_path, stdin=subprocess.DEVNULL), "--password-stdin")
    assert not (tmp_path / "business.db").exists()  # refused before touching the database


def test_with_stdin_closed_it_says_to_use_password_stdin(tmp_path: Path) -> None:
    _one_line_refusal(_admin(tmp_path, shell_close_stdin=True), "--password-stdin")


def test_an_empty_pipe_is_a_clear_refusal(tmp_path: Path) -> None:
    _one_line_refusal(_admin(tmp_path, "--password-stdin", data=""), "no password on stdin")


def test_password_stdin_creates_the_admin(tmp_path: Path) -> None:
    done = _admin(tmp_path, "--password-stdin", data=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "created admin root@example.com" in done.stdout
    assert _admins(tmp_path) == [("root@example.com", "admin")]


def test_a_weak_piped_password_is_refused_in_one_line(tmp_path: Path) -> None:
    _one_line_refusal(_admin(tmp_path, "--password-stdin", data="password\n"), "refused")
    assert _admins(tmp_path) == []
