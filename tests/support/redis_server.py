"""The Redis the tests use: TEST_REDIS_URL when set (CI: a shared server, so each test deletes
the keys it wrote), otherwise a private `redis-server` on a free port in a temporary folder,
started once per session and gone with it. Never a Redis the tests were not told about."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import redis

from tests.support.ports import free_ports
from tools.supervisor import Child

MISSING = (
    "the tests that need Redis start a private redis-server when TEST_REDIS_URL is not set, "
    "and none is on the PATH: install it (apt-get install redis-server) or set TEST_REDIS_URL"
)


class PrivateRedis:
    """A throwaway redis-server: no persistence, loopback only, its files in `folder`; run as
    the supervisor runs its children (gone with the test run, however it ends)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_ports(1)[0]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._server: Child | None = None

    def _answers(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self, timeout_s: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(MISSING)
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        self._server = Child("redis", [*argv, "--save", "", "--appendonly", "no"], self._answers)
        with open(self.folder / "redis.log", "ab") as log:
            self._server.start(os.environ, log)
        deadline = time.monotonic() + timeout_s
        while not self._server.ready():
            if not self._server.running or time.monotonic() > deadline:
                log_text = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"private redis-server did not start: {log_text}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout_s=10)


def configured_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "")
