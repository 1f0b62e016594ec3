"""BarHub: one reader per stream shared by its subscribers; a subscriber that reconnects with a
resume point gets the bars published while it was away, and none it had."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ml_engine.market_data.bar_stream import BarHub, BarStream
from ml_engine.market_data.domain.timeframes import Timeframe, parse_timeframe
from ml_engine.market_data.feeds.feed import FeedBar
from service_runtime.errors import DependencyUnavailable

HOUR = parse_timeframe("1h")


class HandFedFeed:
    """A live feed the test publishes into, bar by bar."""

    def __init__(self) -> None:
        self.published: asyncio.Queue[FeedBar] = asyncio.Queue()

    def publish(self, time: int) -> None:
        self.published.put_nowait(FeedBar("ACME", "1h", time, 1.0, 1.0, 1.0, 1.0, 1.0))

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        while True:
            yield await self.published.get()


async def take(stream: AsyncIterator[FeedBar], count: int) -> list[int]:
    return [(await asyncio.wait_for(anext(stream), 5)).time for _ in range(count)]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def published_to(stream: AsyncIterator[FeedBar], feed: HandFedFeed, times: list[int]) -> list[int]:
    """What `stream`, subscribed before they are published, receives of the bars at `times`."""
    reading = asyncio.ensure_future(take(stream, len(times)))
    await settle()  # subscribed (a subscription starts at its first read)
    for time in times:
        feed.publish(time)
    return await reading


async def test_a_resuming_subscriber_gets_the_bars_published_while_it_reconnected() -> None:
    feed = HandFedFeed()
    hub = BarHub(feed, linger_s=30)
    first = hub.bars([BarStream("ACME", HOUR)])
    assert await published_to(first, feed, [1, 2]) == [1, 2]
    await first.aclose()  # the token expired: the reader lingers and goes on publishing
    feed.publish(3)
    feed.publish(4)
    await settle()
    resumed = hub.bars([BarStream("ACME", HOUR, after=2)])
    assert await take(resumed, 2) == [3, 4]
    feed.publish(5)
    assert await take(resumed, 1) == [5]
    await resumed.aclose()
    await hub.close()


async def test_a_subscriber_without_a_resume_point_starts_at_the_next_bar() -> None:
    feed = HandFedFeed()
    hub = BarHub(feed, linger_s=30)
    first = hub.bars([BarStream("ACME", HOUR)])
    assert await published_to(first, feed, [1]) == [1]
    late = hub.bars([BarStream("ACME", HOUR)])
    assert await published_to(late, feed, [2]) == [2]
    await first.aclose()
    await late.aclose()
    await hub.close()


class FailingOnceFeed(HandFedFeed):
    """A live feed whose first reader fails (a database blip); later readers work."""

    def __init__(self) -> None:
        super().__init__()
        self.readers = 0

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        self.readers += 1
        if self.readers == 1:
            await asyncio.sleep(0)
            raise ConnectionError("database blip")
        async for bar in super().bars(symbol, timeframe, after):
            yield bar


async def test_subscribers_of_a_failed_reader_end_with_unavailable() -> None:
    """Before, they got neither bars nor an error (the reader was gone, its queues with it), while
    a later subscriber started a new reader and got bars."""
    feed = FailingOnceFeed()
    hub = BarHub(feed, linger_s=30)
    stranded = hub.bars([BarStream("ACME", HOUR)])
    with pytest.raises(DependencyUnavailable, match="ACME 1h"):
        await asyncio.wait_for(anext(stranded), 5)
    later = hub.bars([BarStream("ACME", HOUR)])
    assert await published_to(later, feed, [3600]) == [3600]
    assert feed.readers == 2
    await later.aclose()
    await hub.close()


class HourlyFailsOnSignal(HandFedFeed):
    """The 1h reader fails when the test says; other timeframes read the hand-fed bars."""

    def __init__(self) -> None:
        super().__init__()
        self.fail = asyncio.Event()

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        if timeframe == HOUR:
            await self.fail.wait()
            raise ConnectionError("database blip")
        async for bar in super().bars(symbol, timeframe, after):
            yield bar


async def test_a_failure_is_not_lost_behind_a_full_queue() -> None:
    """A subscriber so far behind that its queue is full still ends: bars make room by dropping
    the oldest, but the failure is never the one dropped."""
    feed = HourlyFailsOnSignal()
    hub = BarHub(feed, queue_size=2, linger_s=30)
    both = hub.bars([BarStream("ACME", HOUR), BarStream("ACME", parse_timeframe("4h"))])
    assert await published_to(both, feed, [1]) == [1]
    for time in (2, 3):
        feed.publish(time)
    await settle()  # queued: 2, 3 (full)
    feed.fail.set()
    await settle()  # 3, the failure
    for time in (4, 5):
        feed.publish(time)
    await settle()  # 4 made room by dropping 3; 5 found the failure oldest and was dropped
    assert await take(both, 1) == [4]
    with pytest.raises(DependencyUnavailable):
        await asyncio.wait_for(anext(both), 5)
    await hub.close()
