"""Prediction streams: one producer per (symbol, timeframe), fanned out to every subscriber.

The producer reads the market feed (the replay feed, or a live one), and for each new complete bar
computes the prediction and the signal ONCE, then offers the message to every subscriber's bounded
queue. A slow subscriber loses its oldest messages (counted; the sequence numbers show the gap) and
never holds up the others or the producer. The producer stops `linger_s` after its last subscriber
leaves, so a client reconnecting at once finds it still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ml_engine.market_data.bar_windows import Series
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.feeds.feed import MarketFeed
from ml_engine.predictions.domain.horizons import Horizon
from ml_engine.predictions.forecaster import Forecaster, SignalResult

log = logging.getLogger(__name__)

QUEUE_SIZE = 64
LINGER_S = 2.0


@dataclass(frozen=True)
class StreamMessage:
    symbol: str
    timeframe: str
    # Counts the bars of the producer's feed from 1; a bar whose computation failed leaves a gap.
    sequence: int
    bar_time: int
    close: float
    signal: SignalResult
    # When the producer received the bar from the feed (epoch seconds, float).
    published_at: float
    # The rest of the bar (the chart draws its candle from the message).
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    volume: float = 0.0


class Subscription:
    def __init__(
        self, hub: StreamHub, key: tuple[str, str], queue_size: int, after: int | None = None
    ) -> None:
        self.hub = hub
        self.key = key
        # Resume point (epoch seconds): bars not newer than it are not for this subscriber.
        self.after = after
        self.queue: asyncio.Queue[StreamMessage | None] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0
        self.closed = False

    def offer(self, message: StreamMessage | None) -> None:
        """Enqueue without waiting; when full, the oldest message makes room."""
        if message is not None and self.after is not None and message.bar_time <= self.after:
            return
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(message)

    async def messages(self) -> AsyncIterator[StreamMessage]:
        """Messages until the feed ends (or forever, with a looping replay)."""
        while True:
            message = await self.queue.get()
            if message is None:
                return
            yield message

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub._leave(self)


class _Producer:
    def __init__(self, base: Series, timeframe: str, horizon: Horizon, after: int | None) -> None:
        self.base = base
        # The first subscriber's resume point: where a replay this producer starts begins.
        self.after = after
        self.timeframe = timeframe
        self.horizon = horizon
        self.subscribers: set[Subscription] = set()
        self.sequence = 0
        self.task: asyncio.Task[None] | None = None
        self.stopper: asyncio.Task[None] | None = None


class StreamHub:
    def __init__(
        self,
        forecaster: Forecaster,
        feed: MarketFeed,
        queue_size: int = QUEUE_SIZE,
        linger_s: float = LINGER_S,
    ) -> None:
        self.forecaster = forecaster
        self.feed = feed
        self.queue_size = queue_size
        self.linger_s = linger_s
        self.computations = 0
        self._producers: dict[tuple[str, str], _Producer] = {}

    async def subscribe(self, symbol: str, timeframe_text: str, after: int | None = None) -> Subscription:
        """A subscription to the symbol's stream; a bad timeframe, unknown symbol, missing data or
        missing model raises here, before any message. With `after` (epoch seconds) it receives only
        newer bars, and a producer it starts resumes its replay after it."""
        base, timeframe, horizon = await self.forecaster.check_signal(symbol, timeframe_text)
        key = (base.symbol, timeframe)
        producer = self._producers.get(key)
        if producer is None or producer.task is None or producer.task.done():
            producer = _Producer(base, timeframe, horizon, after)
            self._producers[key] = producer
            producer.task = asyncio.create_task(self._produce(producer), name=f"stream {key[0]} {key[1]}")
        if producer.stopper is not None:
            producer.stopper.cancel()
            producer.stopper = None
        subscription = Subscription(self, key, self.queue_size, after)
        producer.subscribers.add(subscription)
        return subscription

    def subscribers(self, symbol: str, timeframe: str) -> int:
        producer = self._producers.get((symbol, timeframe))
        return len(producer.subscribers) if producer else 0

    def running(self) -> list[tuple[str, str]]:
        return [k for k, p in self._producers.items() if p.task is not None and not p.task.done()]

    def _leave(self, subscription: Subscription) -> None:
        producer = self._producers.get(subscription.key)
        if producer is None:
            return
        producer.subscribers.discard(subscription)
        if not producer.subscribers and producer.stopper is None:
            producer.stopper = asyncio.get_running_loop().create_task(
                self._stop_later(subscription.key, producer)
            )

    async def _stop_later(self, key: tuple[str, str], producer: _Producer) -> None:
        await asyncio.sleep(self.linger_s)
        if producer.subscribers:
            return
        if self._producers.get(key) is producer:
            del self._producers[key]
        if producer.task is not None:
            producer.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer.task

    async def _produce(self, producer: _Producer) -> None:
        timeframe = TIMEFRAMES[producer.timeframe]
        try:
            async for bar in self.feed.bars(producer.base.symbol, timeframe, producer.after):
                if not bar.complete:
                    continue
                received = time.time()
                producer.sequence += 1
                try:
                    # As of the end of this bar: the prediction a live client would have got when it closed.
                    result = await self.forecaster.signal_at(
                        producer.base, producer.timeframe, producer.horizon, bar.time + timeframe.seconds
                    )
                except Exception:
                    log.exception(
                        "stream %s %s: no prediction for the bar at %s",
                        producer.base.symbol,
                        producer.timeframe,
                        bar.time,
                    )
                    continue
                self.computations += 1
                message = StreamMessage(
                    producer.base.symbol,
                    producer.timeframe,
                    producer.sequence,
                    bar.time,
                    bar.close,
                    result,
                    received,
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    volume=bar.volume,
                )
                for subscriber in list(producer.subscribers):
                    subscriber.offer(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stream %s %s: feed failed", producer.base.symbol, producer.timeframe)
        # The feed ended (or failed): every subscriber's stream ends too.
        for subscriber in list(producer.subscribers):
            subscriber.offer(None)

    async def close(self) -> None:
        """Stops every producer (service shutdown)."""
        producers = list(self._producers.values())
        self._producers.clear()
        for producer in producers:
            for task in (producer.stopper, producer.task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
