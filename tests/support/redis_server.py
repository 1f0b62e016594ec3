"""The Redis the tests use: TEST_REDIS_URL when set (CI: a shared server, so each test deletes
the keys it wrote), otherwise a private `redis-server` on a free port in a temporary folder,
started once per session and gone with it. Never a Redis the tests were not told about."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.ports import free_ports
from tools.supervisor import die_with_parent

MISSING = (
    "the tests that need Redis start a private redis-server when TEST_REDIS_URL is not set, "
    "and none is on the PATH: install it (apt-get install redis-server) or set TEST_REDIS_URL"
)


class PrivateRedis:
    """A throwaway redis-server: no persistence, loopback only, its files in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_ports(1)[0]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(MISSING)
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "redis.log", "ab") as log:
            self._process = subprocess.Popen(
                [
                    *(binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)),
                    *("--save", "", "--appendonly", "no"),  # nothing written to disk
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout_s
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        log_text = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"private redis-server did not start: {log_text}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def configured_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "")
