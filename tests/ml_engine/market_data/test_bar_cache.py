"""The bar cache: windows read through it equal windows read from the store, reads of the latest
bars are answered from memory, imports and new bars drop what is held, and the bound holds."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.market_data import bar_windows
from ml_engine.market_data.bar_cache import BarCache
from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_windows import BarWindow, BarWindows
from ml_engine.market_data.handlers import MarketDataHandlers
from ml_engine.shared.database import MarketStore
from tests.ml_engine.market_data.imports import import_as_admin
from tests.ml_engine.predictions.support import store_synthetic
from tests.support.in_process import TestCallers
from trading.market.v1 import market_data_service_pb2 as pb

START = 1_600_000_000 - 1_600_000_000 % 86400
HOUR = 3600


def same(a: BarWindow, b: BarWindow) -> bool:
    x, y = a.bars, b.bars
    return (
        a.has_earlier == b.has_earlier
        and x.last_complete == y.last_complete
        and all(
            np.array_equal(getattr(x, c), getattr(y, c))
            for c in ("times", "open", "high", "low", "close", "volume")
        )
    )


@pytest.fixture
def short_tails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tails of 40 bars at least, so that a 300-bar series is not held whole at the first read."""
    monkeypatch.setattr(bar_windows, "MIN_TAIL_BARS", 40)


@pytest.mark.usefixtures("short_tails")
def test_windows_through_the_cache_equal_windows_from_the_store(empty_market_store: MarketStore) -> None:
    store_synthetic(empty_market_store.engine, "AAA", "1h", HOUR, 300, start=START)
    plain = BarWindows(empty_market_store.engine)
    cache = BarCache(10_000)
    cached = BarWindows(empty_market_store.engine, cache)
    last = START + 299 * HOUR
    cases = [
        ("1h", 10, None, None),
        ("1h", 30, None, last),  # ends before the last bar: read directly, not kept
        ("1h", 100, None, None),  # more than the tail: a longer tail is read
        ("1h", 100, START + 250 * HOUR, None),
        ("1h", 500, None, None),  # more than stored: the whole series
        ("1h", 20, START, START + 30 * HOUR),
        ("1h", 20, None, last + HOUR),
        ("4h", 10, None, None),
        ("4h", 50, START + 7 * HOUR, None),
        ("1d", 5, None, START + 3 * 86400 + 5),
        ("1d", 20, None, None),
    ]
    for timeframe, limit, start, end in cases:
        series = plain.resolve("AAA", timeframe)
        expected = plain.latest(series, limit, start, end)
        for _ in range(2):  # a miss, then (for reads of the latest bars) a hit
            got = cached.latest(cached.resolve("aaa", timeframe), limit, start, end)
            assert same(got, expected), (timeframe, limit, start, end)
    assert cache.hits > cache.misses > 0
    assert 0 < cache.held_bars <= 300


def test_cached_bars_are_read_only(empty_market_store: MarketStore) -> None:
    store_synthetic(empty_market_store.engine, "AAA", "1h", HOUR, 50, start=START)
    windows = BarWindows(empty_market_store.engine, BarCache(1000))
    bars = windows.latest(windows.resolve("AAA", ""), 10).bars
    with pytest.raises(ValueError):
        bars.close[0] = 0.0


async def test_imports_and_new_bars_drop_what_is_held(
    empty_market_store: MarketStore, callers: TestCallers
) -> None:
    engine = empty_market_store.engine
    store_synthetic(engine, "AAA", "1h", HOUR, 50, start=START)
    cache = BarCache(1000)
    windows = BarWindows(engine, cache)
    clock = BarClock(engine)
    clock.on_new_bar(windows.forget)
    await clock.refresh()
    series = windows.resolve("AAA", "")
    assert len(windows.latest(series, 100).bars) == 50
    store_synthetic(engine, "AAA", "1h", HOUR, 60, start=START)  # another process adds ten bars
    assert len(windows.latest(series, 100).bars) == 50  # not seen before the clock's next read
    await clock.refresh()
    assert len(windows.latest(series, 100).bars) == 60

    # An import through the engine that corrects an old bar (the last bar stays): seen at once.
    handlers = MarketDataHandlers(empty_market_store, windows, clock)
    first = windows.latest(series, 100).bars
    csv = f"time,open,high,low,close,volume\n{START},1.0,2.0,0.5,1.5,7\n"
    reply = await import_as_admin(
        handlers, callers, pb.ImportBarsRequest(csv_content=csv, symbol="AAA", timeframe="1h")
    )
    assert reply.committed and reply.rows_inserted == 0
    again = windows.latest(series, 100).bars
    assert first.close[0] != 1.5 and again.close[0] == 1.5 and again.volume[0] == 7
    assert np.array_equal(again.close[1:], first.close[1:])
    windows.forget("AAA")
    assert cache.held_bars == 0


@pytest.mark.usefixtures("short_tails")
def test_the_bound_evicts_the_least_recently_used_tail(empty_market_store: MarketStore) -> None:
    for symbol in ("AAA", "BBB", "CCC"):
        store_synthetic(empty_market_store.engine, symbol, "1h", HOUR, 100, start=START)
    cache = BarCache(250)
    windows = BarWindows(empty_market_store.engine, cache)
    for symbol in ("AAA", "BBB", "CCC"):
        windows.latest(windows.resolve(symbol, ""), 100)  # a tail of all 100 bars each
    assert cache.held_bars == 200
    assert cache.tail("AAA", "1h") is None  # the oldest went first
    assert cache.tail("CCC", "1h") is not None
    # A series longer than the whole bound is read but never held.
    small = BarCache(30)
    windows = BarWindows(empty_market_store.engine, small)
    assert len(windows.latest(windows.resolve("AAA", ""), 90).bars) == 90
    assert small.held_bars == 0
