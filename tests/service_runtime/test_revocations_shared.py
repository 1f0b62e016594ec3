"""Without Redis, the revocation list still reaches every process of a local run (issue 13.2):
the business service writes it into one SQLite file, the ML engine and the gateway read it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from service_runtime import revocations
from service_runtime.caller import Caller
from service_runtime.revocations import (
    MemoryRevocations,
    RedisRevocations,
    SqliteRevocations,
    make_revocations,
)

ROOT = Path(__file__).resolve().parents[2]


def caller(subject: str = "u-1", session_id: str = "s-1", issued_at: float | None = None) -> Caller:
    return Caller(
        subject, frozenset({"user"}), "free", session_id=session_id, issued_at=issued_at or time.time()
    )


async def test_a_revocation_written_by_one_process_is_seen_by_another(tmp_path: Path) -> None:
    path = tmp_path / "revocations.db"
    writer = SqliteRevocations(path, ttl_s=60)
    await writer.revoke_session("s-1")
    await writer.revoke_subject("suspended")
    # Another process: a fresh interpreter opening the same file, as the ML engine does.
    probe = (
        "import asyncio, sys, time\n"
        "from pathlib import Path\n"
        "from service_runtime.caller import Caller\n"
        "from service_runtime.revocations import SqliteRevocations\n"
        "r = SqliteRevocations(Path(sys.argv[1]), 60)\n"
        "def c(sub, sid, iat): return Caller(sub, frozenset(), 'free', session_id=sid, issued_at=iat)\n"
        "checks = [c('u-1', 's-1', time.time()), c('u-2', 's-2', time.time()),\n"
        "          c('suspended', 's-9', time.time() - 5), c('suspended', 's-9', time.time() + 5)]\n"
        "print([asyncio.run(r.is_revoked(x)) for x in checks])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # Session s-1 revoked; another session fine; the suspended subject's older token revoked,
    # a token issued after the suspension (reinstated) accepted.
    assert result.stdout.strip() == "[True, False, True, False]"
    await writer.close()


async def test_entries_are_forgotten_after_the_tokens_they_cover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteRevocations(tmp_path / "r.db", ttl_s=60)
    await store.revoke_session("s-1")
    assert await store.is_revoked(caller())
    later = time.time() + 61  # the clock moved on past the ttl, however slow the writes were
    monkeypatch.setattr(revocations, "time", SimpleNamespace(time=lambda: later))
    assert not await store.is_revoked(caller())
    await store.revoke_session("s-2")  # a write also deletes what expired
    assert store.db.execute("SELECT count(*) FROM revoked").fetchone()[0] == 1
    await store.close()


def test_the_store_follows_the_settings(tmp_path: Path) -> None:
    assert isinstance(make_revocations("redis://127.0.0.1:1/0", 60, str(tmp_path / "r.db")), RedisRevocations)
    assert isinstance(make_revocations("", 60, str(tmp_path / "r.db")), SqliteRevocations)
    assert isinstance(make_revocations("", 60), MemoryRevocations)


async def test_many_callers_are_checked_at_once_as_each_alone(tmp_path: Path, redis_url: str) -> None:
    """revoked_among (the WebSocket bridge's sweep over its sockets) answers what is_revoked answers
    for each caller, in every store; in Redis past one MGET's worth of keys."""
    prefix = f"ra-{time.time_ns()}-"
    stores = [
        MemoryRevocations(60),
        SqliteRevocations(tmp_path / "r.db", 60),
        RedisRevocations(redis_url, 60),
    ]
    before = time.time() - 5
    callers = [caller(f"{prefix}u-{i}", f"{prefix}s-{i}", before) for i in range(1500)]
    callers += [
        Caller(f"{prefix}service", frozenset({"service"}), "", issued_at=before),  # no session
        caller(f"{prefix}suspended", f"{prefix}s-x", before),
        caller(f"{prefix}suspended", f"{prefix}s-y", time.time() + 5),  # issued after the suspension
    ]
    for store in stores:
        await store.revoke_session(f"{prefix}s-7")
        await store.revoke_session(f"{prefix}s-1499")
        await store.revoke_subject(f"{prefix}suspended")
        await store.revoke_subject(f"{prefix}service")
        revoked = await store.revoked_among(callers)
        assert revoked == [await store.is_revoked(c) for c in callers]
        assert [c.session_id or c.subject for c, r in zip(callers, revoked, strict=True) if r] == [
            f"{prefix}s-7",
            f"{prefix}s-1499",
            f"{prefix}service",
            f"{prefix}s-x",
        ]
        assert await store.revoked_among([]) == []
        await store.close()
    cleanup = RedisRevocations(redis_url, 60)
    await cleanup.client.delete(
        *[
            f"trading:revoked:{kind}:{prefix}{name}"
            for kind, name in (("sid", "s-7"), ("sid", "s-1499"), ("sub", "suspended"), ("sub", "service"))
        ]
    )
    await cleanup.close()
