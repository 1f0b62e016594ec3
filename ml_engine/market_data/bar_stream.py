"""Bar streams: one reader of the market feed per (symbol, timeframe), shared by every subscriber.

The feed is the one the prediction streams read (a replay of stored bars, or a live feed). A reader
keeps running `linger_s` after its last subscriber leaves, so a consumer that reconnects at once
(a service token lasts a minute, then its stream ends) continues where the feed is instead of
starting a replay over. A subscriber may give a resume point (`after`): a reader it starts begins
after it (a replay skips to the first stored bar after it), and it is sent no bar not newer than it,
whoever started the reader. A reader keeps its latest bars, so a subscriber that joins a running
reader with a resume point first gets the bars it missed since (those published while it
reconnected). Each followed stream has its own resume point: a consumer's symbols may stand at
different times (paper trading's cursors after an engine restart). A slow subscriber loses its
oldest bars, never holding up the others. A reader whose feed fails ends its subscribers with
DependencyUnavailable (UNAVAILABLE: the consumer reconnects with its resume points, and the next
subscriber starts a new reader); they are never left waiting on a reader that is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import NamedTuple

from ml_engine.market_data.domain.timeframes import Timeframe
from ml_engine.market_data.feeds.feed import FeedBar, MarketFeed
from service_runtime.errors import DependencyUnavailable

log = logging.getLogger(__name__)

QUEUE_SIZE = 1024
LINGER_S = 30.0
# Bars a reader keeps for subscribers that resume: more than a reconnect's worth at any replay speed.
RECENT_BARS = 256


class BarStream(NamedTuple):
    """One (symbol, timeframe) a subscriber follows, with its resume point (epoch seconds; None: the
    bars from now on)."""

    symbol: str
    timeframe: Timeframe
    after: int | None = None


class _FeedFailed(NamedTuple):
    """Queued to a subscriber after the last bar of a reader whose feed failed."""

    symbol: str
    timeframe: str


_Item = FeedBar | _FeedFailed


class _Reader:
    def __init__(self) -> None:
        self.subscribers: set[asyncio.Queue[_Item]] = set()
        self.recent: deque[FeedBar] = deque(maxlen=RECENT_BARS)
        self.task: asyncio.Task[None] | None = None
        self.stopper: asyncio.Task[None] | None = None


class BarHub:
    def __init__(self, feed: MarketFeed, queue_size: int = QUEUE_SIZE, linger_s: float = LINGER_S) -> None:
        self.feed = feed
        self.queue_size = queue_size
        self.linger_s = linger_s
        self._readers: dict[tuple[str, str], _Reader] = {}

    async def bars(self, streams: Iterable[BarStream]) -> AsyncIterator[FeedBar]:
        """Complete bars of every stream, as the feed publishes them, until the caller stops; of a
        stream with a resume point, only bars newer than it."""
        queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=self.queue_size)
        afters: dict[tuple[str, str], int | None] = {}
        for stream in streams:
            key = (stream.symbol, stream.timeframe.name)
            if key not in afters:
                afters[key] = stream.after
                self._join(key, stream.timeframe, queue, stream.after)
        try:
            while True:
                bar = await queue.get()
                if isinstance(bar, _FeedFailed):
                    raise DependencyUnavailable(
                        f"the market feed of {bar.symbol} {bar.timeframe} failed; reconnect to resume"
                    )
                after = afters.get((bar.symbol, bar.timeframe))
                if after is None or bar.time > after:
                    yield bar
        finally:
            for key in afters:
                self._leave(key, queue)

    def _join(
        self, key: tuple[str, str], timeframe: Timeframe, queue: asyncio.Queue[_Item], after: int | None
    ) -> None:
        reader = self._readers.get(key)
        if reader is None or reader.task is None or reader.task.done():
            reader = _Reader()
            self._readers[key] = reader
            reader.task = asyncio.create_task(
                self._read(key[0], timeframe, reader, after), name=f"bars {key}"
            )
        if reader.stopper is not None:
            reader.stopper.cancel()
            reader.stopper = None
        if after is not None:
            for missed in (bar for bar in reader.recent if bar.time > after):
                _offer(queue, missed)
        reader.subscribers.add(queue)

    def _leave(self, key: tuple[str, str], queue: asyncio.Queue[_Item]) -> None:
        reader = self._readers.get(key)
        if reader is None:
            return
        reader.subscribers.discard(queue)
        if not reader.subscribers and reader.stopper is None:
            reader.stopper = asyncio.get_running_loop().create_task(self._stop_later(key, reader))

    async def _stop_later(self, key: tuple[str, str], reader: _Reader) -> None:
        await asyncio.sleep(self.linger_s)
        if reader.subscribers:
            return
        if self._readers.get(key) is reader:
            del self._readers[key]
        if reader.task is not None:
            reader.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader.task

    async def _read(self, symbol: str, timeframe: Timeframe, reader: _Reader, after: int | None) -> None:
        try:
            async for bar in self.feed.bars(symbol, timeframe, after):
                if not bar.complete:
                    continue
                reader.recent.append(bar)
                for queue in list(reader.subscribers):
                    _offer(queue, bar)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bar stream %s %s: feed failed", symbol, timeframe.name)
            self._fail((symbol, timeframe.name), reader)

    def _fail(self, key: tuple[str, str], reader: _Reader) -> None:
        """Ends the subscribers of `reader`, whose feed failed, and forgets it."""
        if self._readers.get(key) is reader:
            del self._readers[key]  # the next subscriber starts a new reader
        if reader.stopper is not None:
            reader.stopper.cancel()  # nothing left to stop, and close() no longer sees it
        for queue in list(reader.subscribers):
            _offer(queue, _FeedFailed(*key))

    async def close(self) -> None:
        readers = list(self._readers.values())
        self._readers.clear()
        for reader in readers:
            for task in (reader.stopper, reader.task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


def _offer(queue: asyncio.Queue[_Item], item: _Item) -> None:
    """Queues `item`, dropping the oldest queued bar when the subscriber is that far behind. A
    failure is never the one dropped: the subscriber must end."""
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            oldest = queue.get_nowait()
            if isinstance(oldest, _FeedFailed):
                item = oldest  # requeued, last: the new bar is the one lost
    queue.put_nowait(item)
