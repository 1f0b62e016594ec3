"""The bar clock: every symbol's last stored bar in one read, the symbols whose last bar changed, and
this engine's own imports seen at once."""

from __future__ import annotations

from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
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
