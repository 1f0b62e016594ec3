"""StampedCache: stamps, single flight, the entry and byte bounds, no failure kept."""

from __future__ import annotations

import asyncio

import pytest

from ml_engine.shared.stamped_cache import StampedCache


async def test_the_cache_is_bounded_and_keeps_no_failure() -> None:
    cache: StampedCache[int] = StampedCache(2)
    calls: list[str] = []

    async def value(key: str, result: int) -> int:
        calls.append(key)
        return result

    assert await cache.get("a", 1, lambda: value("a", 1)) == 1
    assert await cache.get("b", 1, lambda: value("b", 2)) == 2
    assert cache.peek("a", 1) == 1  # a is now the most recently used
    assert await cache.get("c", 1, lambda: value("c", 3)) == 3
    assert cache.cached_keys() == ["a", "c"]  # b went first
    assert cache.peek("a", 2) is None  # another stamp is another value

    async def fail() -> int:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError):
        await cache.get("a", 2, fail)
    assert "a" not in cache.cached_keys()
    assert await cache.get("a", 2, lambda: value("a", 4)) == 4

    # A caller that goes away does not cancel the computation the others wait for.
    gate = asyncio.Event()

    async def slow() -> int:
        await gate.wait()
        return 5

    leaving = asyncio.ensure_future(cache.get("d", 1, slow))
    staying = asyncio.ensure_future(cache.get("d", 1, slow))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert await staying == 5
    assert cache.computations == 6  # a, b, c, a (failed), a again, d (once for both callers)


async def test_values_over_the_byte_bound_go_least_recently_used_first() -> None:
    cache: StampedCache[bytes] = StampedCache(100, max_bytes=10, size_of=len)

    async def value(result: bytes) -> bytes:
        return result

    await cache.get("a", 1, lambda: value(b"aaaa"))
    await cache.get("b", 1, lambda: value(b"bbbb"))
    assert cache.held_bytes == 8
    assert cache.peek("a", 1) == b"aaaa"  # a is now the most recently used
    await cache.get("c", 1, lambda: value(b"cccc"))
    assert cache.cached_keys() == ["a", "c"] and cache.held_bytes == 8  # b went first
    await cache.get("a", 2, lambda: value(b"aa"))  # a new stamp replaces the value and its size
    assert cache.held_bytes == 6
    # A value larger than the bound on its own is answered, not kept (the older ones, all less
    # recently used, go first).
    assert await cache.get("huge", 1, lambda: value(b"x" * 11)) == b"x" * 11
    assert cache.cached_keys() == [] and cache.held_bytes == 0
    assert cache.computations == 5
