"""Dynamic micro-batching: concurrent requests for the same model version are stacked into one
session run, run in a worker thread, and each caller gets its own rows back. A batch takes what is
queued when the worker comes round and, while requests are announced as on their way
(arrivals.py), waits for them, up to `max_size` rows or `max_delay_s`. One batcher per active
version: a hot reload closes the old batcher, which first finishes every request queued on it."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml_engine.models.serving.arrivals import ModelArrivals, wake
from ml_engine.models.serving.stats import ModelStats

log = logging.getLogger("ml_engine.serving")

Runner = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Request:
    x: np.ndarray
    future: asyncio.Future[np.ndarray]


class BatcherClosed(RuntimeError):
    """Submitted after close(): the registry swapped versions; the caller retries on the new one."""


class MicroBatcher:
    """Requests wait in a plain deque; the worker sleeps on one future, woken by the request that
    makes a batch full (or by its timer), not by each request: an asyncio.Queue with wait_for per
    request made a task and a timer per request and model, 18 models per prediction."""

    def __init__(
        self,
        run: Runner,
        stats: ModelStats,
        *,
        enabled: bool,
        max_size: int,
        max_delay_s: float,
        arrivals: ModelArrivals | None = None,
    ) -> None:
        self.run = run
        self.stats = stats
        self.enabled = enabled
        self.max_size = max(1, max_size)
        self.max_delay_s = max(0.0, max_delay_s)
        self._pending: deque[_Request] = deque()
        self._pending_rows = 0
        self._closed = False
        self._worker: asyncio.Task[None] | None = None
        # Requests on their way here: a batch waits for them (up to max_delay), never for others.
        self.arrivals = arrivals or ModelArrivals()
        # The worker's wait: it resumes once `_wake_at_rows` rows are pending, or on close().
        self._waiter: asyncio.Future[None] | None = None
        self._wake_at_rows = 1

    async def submit(self, x: np.ndarray) -> np.ndarray:
        """The model's rows for `x` ([k, ...] float32): [k, outputs] float64."""
        return await self.enqueue(x)

    def enqueue(self, x: np.ndarray) -> asyncio.Future[np.ndarray]:
        """`submit` without a coroutine: queued now, the rows come in the returned future. A caller
        that submits to several models at once awaits their futures together, without a task each."""
        if self._closed:
            raise BatcherClosed("this model version is being replaced")
        loop = asyncio.get_running_loop()
        if not self.enabled:
            self.stats.record_batch(1)
            return loop.run_in_executor(None, self.run, x)
        if self._worker is None:
            self._worker = loop.create_task(self._work())
        future: asyncio.Future[np.ndarray] = loop.create_future()
        # Enqueued synchronously: a request that saw this batcher active is queued before any
        # close() that follows, so it is served by this version.
        self._pending.append(_Request(x, future))
        self._pending_rows += len(x)
        if self._waiter is not None and self._pending_rows >= self._wake_at_rows:
            wake(self._waiter)
        return future

    async def close(self) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            if self._waiter is not None:
                wake(self._waiter)
            await self._worker

    async def _wait_for_rows(self, rows: int, timeout_s: float | None, *, arrivals: bool = False) -> None:
        """Until `rows` rows are pending, close() is called, `timeout_s` has passed or, with
        `arrivals`, no request is on its way any more."""
        if self._pending_rows >= rows or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._wake_at_rows = rows
        timer = None if timeout_s is None else loop.call_later(timeout_s, wake, waiter)
        if arrivals:
            self.arrivals.wait_until_none(waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _take_batch(self) -> list[_Request]:
        """Pending requests, oldest first, up to max_size rows. A multi-row request that would
        overflow the batch stays first in line for the next one."""
        batch: list[_Request] = []
        rows = 0
        while self._pending:
            size = len(self._pending[0].x)
            if rows > 0 and rows + size > self.max_size:
                break
            batch.append(self._pending.popleft())
            rows += size
            self._pending_rows -= size
        return batch

    async def _work(self) -> None:
        while True:
            await self._wait_for_rows(1, None)
            if self.arrivals.coming:  # (returns at once after close())
                await self._wait_for_rows(self.max_size, self.max_delay_s, arrivals=True)
            batch = self._take_batch()
            if not batch:  # closed, and every request queued before served
                return
            await self._run_batch(batch)

    async def _run_batch(self, batch: list[_Request]) -> None:
        live = [r for r in batch if not r.future.cancelled()]
        if not live:
            return
        self.stats.record_batch(len(live))
        try:
            x = live[0].x if len(live) == 1 else np.concatenate([r.x for r in live], axis=0)
            # One row runs inline: these models take tens of microseconds at batch 1, less than the
            # hand-off to a worker thread and back. Real batches run in a thread (ONNX Runtime
            # releases the GIL), so the loop keeps accepting requests meanwhile.
            values = self.run(x) if len(x) == 1 else await asyncio.to_thread(self.run, x)
        except Exception as error:  # handed to each caller, who maps it
            for request in live:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        start = 0
        for request in live:
            end = start + len(request.x)
            if not request.future.done():
                request.future.set_result(values[start:end])
            start = end
