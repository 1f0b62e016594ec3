"""Requests on their way to the micro-batchers: announced, with the models they will run, by a
caller that queues its inputs only after work of its own (a forecast reads its bars and computes
features first), and landed when queued. A model's batch waits, up to its max delay, only while
requests for that model are on their way: under load it gathers the requests the event loop is
still preparing instead of running each as it comes, and a lone request never waits for others
that may never come."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol


def wake(waiter: asyncio.Future[None]) -> None:
    """Resolve a waiting future unless it already is (a timer and a landing may race)."""
    if not waiter.done():
        waiter.set_result(None)


class ModelArrivals:
    """One model's announced requests not yet queued, and the batch waiting for them to land."""

    def __init__(self) -> None:
        self.coming = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def wait_until_none(self, waiter: asyncio.Future[None]) -> None:
        """Resolve `waiter` when no request is on its way any more (now, if none is)."""
        if self.coming == 0:
            wake(waiter)
            return
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)

    def _landed(self) -> None:
        self.coming -= 1
        if self.coming == 0:
            for waiter in list(self._waiters):
                wake(waiter)


class Landing(Protocol):
    """What queueing needs of an announced request: to land it."""

    def land(self) -> None: ...


class Arrival:
    """One announced request; `land()` when its inputs are queued (or it gave up). Idempotent."""

    def __init__(self, expected: list[ModelArrivals]) -> None:
        self._expected = expected
        for model in expected:
            model.coming += 1

    def land(self) -> None:
        expected, self._expected = self._expected, []
        for model in expected:
            model._landed()


class Arrivals:
    """Every model's arrivals, by model name."""

    def __init__(self) -> None:
        self._models: dict[str, ModelArrivals] = {}

    def of(self, name: str) -> ModelArrivals:
        return self._models.setdefault(name, ModelArrivals())

    @contextmanager
    def announced(self, names: Iterable[str]) -> Iterator[Arrival]:
        """An arrival for the block: landed by the queueing, or at the block's end at the latest."""
        arrival = Arrival([self.of(name) for name in names])
        try:
            yield arrival
        finally:
            arrival.land()
