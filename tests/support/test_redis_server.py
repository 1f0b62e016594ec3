"""The tests of the Redis stores use only the Redis they are given (issue 13.11): without
TEST_REDIS_URL a private redis-server (never a local one on 6379, never skipped), with it they
leave no key behind, and a missing redis-server fails them with a clear message. Each case runs
those tests in a pytest of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import redis

from tests.support.redis_server import MISSING, PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
REDIS_TESTS = [
    "tests/business/identity/domain/test_throttle.py",
    "tests/gateway/test_oauth_state_store.py",
    "tests/service_runtime/test_access.py",
]


def run_tests(env: dict[str, str], *selection: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *(selection or REDIS_TESTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def environment(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TEST_REDIS_URL"}
    env.update(changes)
    return env


def test_without_test_redis_url_a_private_server_is_started(tmp_path: Path) -> None:
    # A redis-server first on the PATH that notes each start, then runs the real one.
    real = shutil.which("redis-server")
    assert real, MISSING
    wrapper, starts = tmp_path / "bin", tmp_path / "starts"
    wrapper.mkdir()
    (wrapper / "redis-server").write_text(f'#!/bin/sh\necho "$@" >> {starts}\nexec {real} "$@"\n')
    (wrapper / "redis-server").chmod(0o755)
    done = run_tests(environment(PATH=f"{wrapper}:{os.environ['PATH']}"))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "skipped" not in done.stdout, done.stdout[-3000:]
    started = starts.read_text().splitlines()
    assert len(started) == 1 and "--port" in started[0] and "--save" in started[0]


def test_with_test_redis_url_no_key_is_left_behind(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        done = run_tests(environment(TEST_REDIS_URL=server.url.replace("/0", "/3")))
        assert done.returncode == 0, done.stdout[-3000:]
        assert "skipped" not in done.stdout, done.stdout[-3000:]
        client = redis.Redis.from_url(server.url)
        left = client.info("keyspace")  # every database holding keys, e.g. {"db13": {"keys": 1, ...}}
        client.close()
        assert left == {}, left
    finally:
        server.stop()


def test_a_missing_redis_server_fails_clearly(tmp_path: Path) -> None:
    done = run_tests(
        environment(PATH=str(tmp_path)), f"{REDIS_TESTS[0]}::test_redis_keys_hold_no_email_or_ip"
    )
    assert done.returncode != 0
    assert MISSING in done.stdout, done.stdout[-3000:]


def test_no_test_names_a_local_redis() -> None:
    named = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if ":6379" in path.read_text() and path != Path(__file__)
    ]
    assert named == []
