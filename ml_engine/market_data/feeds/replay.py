"""Replay stored bars as if they were arriving live, `speed` times faster than real time.

A 1h bar followed by the next one an hour later is published `3600 / speed` seconds after it
(gaps such as weekends are replayed compressed to at most `max_gap_s`). When the stored bars
run out, the replay starts over from the beginning if `loop` is set, so a demo never goes quiet.
Given `after` (a consumer's resume point), the first pass starts at the first stored bar after it
instead of the first stored bar, so a restarted engine does not replay what a consumer has processed.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator, Awaitable, Callable

from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.domain.timeframes import Timeframe
from ml_engine.market_data.feeds.feed import FeedBar

Sleep = Callable[[float], Awaitable[None]]


class ReplayFeed:
    def __init__(
        self,
        windows: BarWindows,
        speed: float = 60.0,
        history: int = 5000,
        loop: bool = True,
        max_gap_s: float = 5.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.windows = windows
        self.speed = speed
        self.history = history
        self.loop = loop
        self.max_gap_s = max_gap_s
        self.sleep = sleep

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        series = await asyncio.to_thread(self.windows.resolve, symbol, timeframe.name)
        window = await asyncio.to_thread(self.windows.latest, series, self.history)
        stored = window.bars
        if len(stored) == 0:
            return
        times = [int(t) for t in stored.times]
        # The first pass starts after the resume point (past the last stored bar: at the start).
        first = 0 if after is None else bisect.bisect_right(times, after) % len(times)
        while True:
            for i in range(first, len(stored)):
                if i > first:
                    gap = (int(stored.times[i]) - int(stored.times[i - 1])) / self.speed
                    await self.sleep(min(gap, self.max_gap_s))
                yield FeedBar(
                    series.symbol,
                    series.target.name,
                    int(stored.times[i]),
                    float(stored.open[i]),
                    float(stored.high[i]),
                    float(stored.low[i]),
                    float(stored.close[i]),
                    float(stored.volume[i]),
                    complete=stored.last_complete or i != len(stored) - 1,
                )
            if not self.loop:
                return
            first = 0
