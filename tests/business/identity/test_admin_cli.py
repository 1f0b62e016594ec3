"""`make admin` (business.identity.admin_cli) as scripts run it: without a terminal it says what
to do in one line and exits 2, never a traceback; --password-stdin reads the password from a pipe."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from business.identity.domain import accounts, email_links, sessions
from business.identity.domain.context import Identity
from business.identity.domain.entities import User
from business.identity.domain.sessions import Challenge, TokenPair
from service_runtime.caller import Caller
from service_runtime.errors import Unauthenticated
from service_runtime.revocations import SqliteRevocations
from tests.business.identity.conftest import CLIENT, Outbox
from tests.business.identity.helpers import audit_actions, signed_in, stored_user, with_totp

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery staple 42"


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "APP_ENV"}}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/business.db",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="8192",
        # The revoked tokens' list of a run without Redis: this test's own file.
        REDIS_URL="",
        REVOCATIONS_FILE=str(tmp_path / "revocations.db"),
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "gen" / "python")]),
    )
    env.update(overrides)
    return env


def _admin(
    tmp_path: Path,
    *args: str,
    stdin: int | None = None,
    data: str | None = None,
    shell_close_stdin: bool = False,
    email: str = "root@example.com",
    **env: str,
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "business.identity.admin_cli",
        "create-admin",
        "--email",
        email,
        *args,
    ]
    if shell_close_stdin:
        # stdin closed altogether (`<&-`), as some schedulers start jobs.
        quoted = " ".join(f"'{part}'" for part in command)
        return subprocess.run(
            ["bash", "-c", f"exec {quoted} <&-"],
            cwd=REPO,
            env=_env(tmp_path, **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
    return subprocess.run(
        command,
        cwd=REPO,
        env=_env(tmp_path, **env),
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


# Promoting an account someone already uses: whatever was handed out before it became an admin
# must not turn into admin access (its refresh tokens would refresh into admin tokens).

ADMIN_PASSWORD = "the operator's admin passphrase 9"


def _promote(tmp_path: Path, db_url: str, email: str) -> None:
    done = _admin(tmp_path, "--password-stdin", data=ADMIN_PASSWORD + "\n", email=email, DATABASE_URL=db_url)
    assert done.returncode == 0, done.stderr
    assert f"promoted admin {email}" in done.stdout


def _issued_at(access_token: str) -> float:
    """The token's `iat` (its signature is not the point here)."""
    payload = access_token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iat"])


async def _assert_earlier_access_ended(
    identity: Identity, tmp_path: Path, user: User, pair: TokenPair
) -> None:
    with pytest.raises(Unauthenticated):  # no admin tokens from the earlier refresh token
        await sessions.refresh(identity, pair.refresh_token, CLIENT)
    revoked = SqliteRevocations(tmp_path / "revocations.db", 960)
    try:  # the access token issued before the promotion, at every service
        assert await revoked.is_revoked(
            Caller(user.id, frozenset({"user"}), "free", issued_at=_issued_at(pair.access_token))
        )
    finally:
        await revoked.close()
    assert stored_user(identity, user.id).role == "admin"


async def test_promoting_an_unproven_account_takes_it_from_whoever_registered_it(
    identity: Identity, db_url: str, tmp_path: Path
) -> None:
    squatter, pair = await signed_in(identity)  # registered the address, never proved it
    await accounts.update_me(identity, squatter.id, None, "+14155550166", CLIENT)
    await with_totp(identity, squatter.id)
    _promote(tmp_path, db_url, squatter.email)
    await _assert_earlier_access_ended(identity, tmp_path, squatter, pair)
    admin = stored_user(identity, squatter.id)
    assert admin.phone_number is None and not admin.totp_enabled and admin.email_verified
    assert "auth.account.claimed" in audit_actions(identity, squatter.id)
    # The operator's password signs in, and no second factor someone else set up stands in the way.
    assert isinstance(await accounts.login(identity, squatter.email, ADMIN_PASSWORD, CLIENT), TokenPair)


async def test_promoting_a_proven_account_ends_its_sessions_and_keeps_its_second_factor(
    identity: Identity, db_url: str, tmp_path: Path, outbox: Outbox
) -> None:
    user, pair = await signed_in(identity)
    await email_links.verify_email(identity, outbox.link_token(user.email), PASSWORD, CLIENT)
    await with_totp(identity, user.id)
    _promote(tmp_path, db_url, user.email)
    await _assert_earlier_access_ended(identity, tmp_path, user, pair)
    assert isinstance(await accounts.login(identity, user.email, ADMIN_PASSWORD, CLIENT), Challenge)
    assert "auth.account.claimed" not in audit_actions(identity, user.id)


async def test_a_promotion_the_revocation_store_missed_says_to_run_it_again(
    identity: Identity, db_url: str, tmp_path: Path
) -> None:
    user, _ = await signed_in(identity)
    down = "redis://127.0.0.1:1/0"  # nothing listens there
    done = _admin(
        tmp_path,
        "--password-stdin",
        data=ADMIN_PASSWORD + "\n",
        email=user.email,
        DATABASE_URL=db_url,
        REDIS_URL=down,
    )
    assert done.returncode == 1 and "run the command again" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert stored_user(identity, user.id).role == "admin"  # stored; the rerun revokes (idempotent)
