"""The replay feed publishes stored bars in order, paced by their spacing divided by the speed."""

from __future__ import annotations

import asyncio

import numpy as np
from backtesting.test import GOOG

from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.feeds.feed import FeedBar, MarketFeed
from ml_engine.market_data.feeds.replay import ReplayFeed
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.shared.database import MarketStore


def test_replay_paces_and_loops(market_store: MarketStore) -> None:
    import_sample(market_store.engine, "GOOG")
    waits: list[float] = []

    async def fake_clock(seconds: float) -> None:  # records the pacing instead of sleeping
        waits.append(seconds)

    feed: MarketFeed = ReplayFeed(
        BarWindows(market_store.engine), speed=86400.0, history=5, max_gap_s=2.0, sleep=fake_clock
    )

    async def take(n: int) -> list[FeedBar]:
        out: list[FeedBar] = []
        async for bar in feed.bars("goog", TIMEFRAMES["1d"]):
            out.append(bar)
            if len(out) == n:
                break
        return out

    bars = asyncio.run(take(7))
    last5 = GOOG.iloc[-5:]
    expected_times = list(last5.index.values.astype("datetime64[s]").astype(np.int64))
    assert [b.time for b in bars[:5]] == expected_times
    assert [b.time for b in bars[5:]] == expected_times[:2]  # looped back to the start
    assert [b.close for b in bars[:5]] == last5.Close.tolist()
    assert bars[0].symbol == "GOOG" and bars[0].timeframe == "1d"
    gaps_days = np.diff(expected_times) / 86400
    assert waits[:4] == [min(g, 2.0) for g in gaps_days]  # one day of data per second, weekends capped


def test_replay_starts_after_a_resume_point(market_store: MarketStore) -> None:
    import_sample(market_store.engine, "GOOG")

    async def no_wait(seconds: float) -> None:
        pass

    feed = ReplayFeed(BarWindows(market_store.engine), history=5, sleep=no_wait)
    last5 = list(GOOG.iloc[-5:].index.values.astype("datetime64[s]").astype(np.int64))

    async def take(n: int, after: int | None) -> list[int]:
        out: list[int] = []
        async for bar in feed.bars("goog", TIMEFRAMES["1d"], after):
            out.append(bar.time)
            if len(out) == n:
                break
        return out

    # Between two stored bars: the first bar after it, then on (and the loop starts over at the start).
    assert asyncio.run(take(4, int(last5[1]) + 1)) == [*last5[2:], last5[0]]
    assert asyncio.run(take(2, int(last5[2]))) == last5[3:5]  # a bar's own time: the one after it
    assert asyncio.run(take(2, int(last5[0]) - 10**6)) == last5[:2]  # before the window: from the start
    assert asyncio.run(take(2, int(last5[-1]))) == last5[:2]  # past the last bar: the loop's start
