"""The bar clock: every symbol's last stored bar in one read, the symbols whose last bar changed, and
this engine's own imports seen at once."""

from __future__ import annotations

from ml_engine.market_data.bar_cache import BarCache
from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.row_checks import BarRow
from ml_engine.market_data.domain.symbols import SymbolInfo
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.handlers import MarketDataHandlers
from ml_engine.shared.database import MarketStore
from tests.ml_engine.market_data.imports import import_as_admin
from tests.ml_engine.predictions.support import store_synthetic
from tests.support.in_process import TestCallers
from trading.market.v1 import market_data_service_pb2 as pb


async def test_refresh_reports_the_symbols_whose_last_bar_changed(empty_market_store: MarketStore) -> None:
    clock = BarClock(empty_market_store.engine)
    heard: list[str] = []
    clock.on_new_bar(heard.append)
    assert await clock.refresh() == [] and clock.last("AAA") is None
    store_synthetic(empty_market_store.engine, "AAA", "1h", 3600, 10, start=1_600_000_000)
    store_synthetic(empty_market_store.engine, "BBB", "1d", 86400, 5, start=1_600_000_000)
    with empty_market_store.engine.begin() as conn:  # a symbol without bars yet
        repo.save_symbol(conn, repo.StoredSymbol(SymbolInfo("CCC", "C", "fx", 0.0001, "USD", "UTC"), "1h"))
    assert sorted(await clock.refresh()) == ["AAA", "BBB", "CCC"]
    aaa = clock.last("AAA")
    assert aaa is not None and aaa.base == TIMEFRAMES["1h"]
    assert aaa.time == 1_600_000_000 - 1_600_000_000 % 3600 + 9 * 3600
    ccc = clock.last("CCC")
    assert ccc is not None and ccc.time is None
    store_synthetic(empty_market_store.engine, "AAA", "1h", 3600, 11, start=1_600_000_000)  # one more bar
    assert await clock.refresh() == ["AAA"]
    last = clock.last("AAA")
    assert last is not None and last.time == aaa.time + 3600
    assert heard == ["AAA", "BBB", "CCC", "AAA"]
    assert await clock.refresh() == []


async def test_an_import_through_the_engine_moves_the_clock_at_once(
    empty_market_store: MarketStore, callers: TestCallers
) -> None:
    clock = BarClock(empty_market_store.engine)
    await clock.refresh()
    handlers = MarketDataHandlers(empty_market_store, BarWindows(empty_market_store.engine), clock)
    dry = await import_as_admin(handlers, callers, pb.ImportBarsRequest(sample="EURUSD", dry_run=True))
    assert not dry.committed and clock.last("EURUSD") is None  # nothing stored: nothing to see
    reply = await import_as_admin(handlers, callers, pb.ImportBarsRequest(sample="EURUSD"))
    assert reply.committed
    last = clock.last("EURUSD")
    assert last is not None and last.time is not None and last.base == TIMEFRAMES["1h"]


async def test_a_correction_of_past_bars_by_another_engine_reaches_this_engines_bar_cache(
    empty_market_store: MarketStore,
) -> None:
    """Another engine (k8s runs two) imports corrected past bars: the last bar stays where it was,
    and this engine's clock still hears of it (the symbol's revision moved), so its cache reads
    the corrected bars."""
    engine = empty_market_store.engine
    stored = store_synthetic(engine, "AAA", "1h", 3600, 10, start=1_600_000_000)
    clock = BarClock(engine)
    windows = BarWindows(engine, BarCache(100_000))
    clock.on_new_bar(windows.forget)
    await clock.refresh()
    series = windows.resolve("AAA", "")
    assert windows.latest(series, 10).bars.close[3] == stored.close[3]  # now cached
    version = windows.data_version("AAA")
    corrected = BarRow(0, int(stored.times[3]), 1.0, 2.0, 0.5, 1.5, 10.0)
    with engine.begin() as conn:  # the other engine's import, in its own transaction
        repo.upsert_bars(conn, "AAA", "1h", [corrected])
    assert await clock.refresh() == ["AAA"]
    last = clock.last("AAA")
    assert last is not None and last.time == int(stored.times[-1])  # no new last bar
    assert windows.data_version("AAA") != version  # history and indicator replies computed again
    assert windows.latest(series, 10).bars.close[3] == 1.5
    assert await clock.refresh() == []
