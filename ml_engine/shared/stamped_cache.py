"""A bounded, single-flight cache of values that hold until their stamp changes.

Latest-bar predictions and signals (predictions/forecaster.py) live in one, keyed by what they
are of (symbol and horizon, or symbol and signal timeframe) and stamped with what makes them true
(the last stored bar and the model activation count); indicator replies (indicators/handlers.py)
in another, stamped with the version of the series' stored bars. A look-up with another stamp
computes again; concurrent look-ups of a missing value share one computation (single flight); the
least recently used entries go first once `max_entries` is reached or, with `size_of`, once the
values kept add up to more than `max_bytes`. A computation that fails is not kept: the next
look-up retries.
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
    # The value's size by `size_of`, once computed (0 until then, and without `size_of`).
    size: int = 0


class StampedCache(Generic[V]):
    def __init__(
        self, max_entries: int, *, max_bytes: int = 0, size_of: Callable[[V], int] | None = None
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size_of = size_of
        self.computations = 0
        self.held_bytes = 0
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
        self._drop(key)
        self._entries[key] = entry
        while len(self._entries) > self.max_entries:
            self._drop(next(iter(self._entries)))

        def settle(done: asyncio.Future[V]) -> None:
            # exception() retrieves it: no "never retrieved" warning for a failure others were told of.
            failed = done.cancelled() or done.exception() is not None
            if self._entries.get(key) is not entry:
                return
            if failed:
                self._drop(key)
            elif self.size_of is not None:
                entry.size = self.size_of(done.result())
                self.held_bytes += entry.size
                self._fit_bytes()

        task.add_done_callback(settle)
        return entry

    def _fit_bytes(self) -> None:
        """Least recently used values out until the rest fit in max_bytes (a value larger than
        that on its own is not kept: its callers still get it)."""
        while self.held_bytes > self.max_bytes and self._entries:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.held_bytes -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self.held_bytes = 0
