"""A bounded, single-flight cache of values that hold until their stamp changes.

Latest-bar predictions and signals live here, keyed by what they are of (symbol and horizon, or
symbol and signal timeframe) and stamped with what makes them true (the last stored bar and the
model activation count). A look-up with another stamp computes again; concurrent look-ups of a
missing value share one computation (single flight); the least recently used entry goes first
once `max_entries` is reached. A computation that fails is not kept: the next look-up retries.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    stamp: Hashable
    task: asyncio.Future[V]


class LatestCache(Generic[V]):
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.computations = 0
        self._entries: OrderedDict[Hashable, _Entry[V]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def cached_keys(self) -> list[Hashable]:
        return list(self._entries)

    def peek(self, key: Hashable, stamp: Hashable) -> V | None:
        """The value computed for `stamp`, when it is ready (no await: the hot path)."""
        entry = self._entries.get(key)
        if entry is None or entry.stamp != stamp or not entry.task.done():
            return None
        if entry.task.cancelled() or entry.task.exception() is not None:
            return None
        self._entries.move_to_end(key)
        return entry.task.result()

    async def get(self, key: Hashable, stamp: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        """The value for `stamp`: the cached one, the one being computed, or a new computation."""
        if not self.enabled:
            self.computations += 1
            return await compute()
        entry = self._entries.get(key)
        if entry is None or entry.stamp != stamp:
            entry = self._start(key, stamp, compute)
        else:
            self._entries.move_to_end(key)
        # Shielded: a caller that goes away does not cancel the computation others wait on.
        return await asyncio.shield(entry.task)

    def _start(self, key: Hashable, stamp: Hashable, compute: Callable[[], Awaitable[V]]) -> _Entry[V]:
        self.computations += 1
        task: asyncio.Future[V] = asyncio.ensure_future(compute())
        entry = _Entry(stamp, task)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

        def forget_failure(done: asyncio.Future[V]) -> None:
            # exception() retrieves it: no "never retrieved" warning for a failure others were told of.
            failed = done.cancelled() or done.exception() is not None
            if failed and self._entries.get(key) is entry:
                del self._entries[key]

        task.add_done_callback(forget_failure)
        return entry

    def clear(self) -> None:
        self._entries.clear()
