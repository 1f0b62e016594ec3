"""Dynamic micro-batching: concurrent requests for the same model version are stacked into one
session run (up to `max_size` requests or `max_delay_s` of waiting), run in a worker thread, and
each caller gets its own rows back. One batcher per active version: a hot reload closes the old
batcher, which first finishes every request already queued on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
    def __init__(
        self, run: Runner, stats: ModelStats, *, enabled: bool, max_size: int, max_delay_s: float
    ) -> None:
        self.run = run
        self.stats = stats
        self.enabled = enabled
        self.max_size = max(1, max_size)
        self.max_delay_s = max(0.0, max_delay_s)
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._closed = False
        self._worker: asyncio.Task[None] | None = None
        # Whether the last batch held more than one request: only then is waiting for more worth
        # it. A lone caller (low load) runs at once instead of paying max_delay on every call.
        self._under_load = False

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
        self._queue.put_nowait(_Request(x, future))
        return future

    async def close(self) -> None:
        """Refuse new requests, finish the queued ones, stop the worker."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._queue.put_nowait(None)
            await self._worker

    async def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, rows = [first], len(first.x)
        deadline = time.perf_counter() + self.max_delay_s
        while len(batch) < self.max_size:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.perf_counter()
                if remaining <= 0 or (len(batch) == 1 and not self._under_load):
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            if item is None:
                return batch, True
            if rows + len(item.x) > self.max_size and rows > 0 and len(item.x) > 1:
                # A multi-row request that would overflow the batch runs on its own next time.
                self._queue.put_nowait(item)
                break
            batch.append(item)
            rows += len(item.x)
        return batch, False

    async def _work(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                break
            batch, stop = await self._collect(first)
            self._under_load = len(batch) > 1
            await self._run_batch(batch)
        # close() queued the sentinel after every request it promised to serve; anything left
        # (a multi-row request put back) is served before the worker ends.
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                await self._run_batch([item])

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
