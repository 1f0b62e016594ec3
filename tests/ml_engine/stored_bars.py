"""A bar stored after a symbol's last one, as another process's import stores it: the engine sees
it once it forgets the symbol (its own imports and the bar clock make it do so)."""

from __future__ import annotations

from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.row_checks import BarRow
from ml_engine.shared.database import MarketStore


def store_next_bar(store: MarketStore, windows: BarWindows, symbol: str, price: float) -> int:
    """Stores a flat bar at `price` one base bar after `symbol`'s last; its open time."""
    series = windows.resolve(symbol, "")
    last = windows.last_time(series)
    assert last is not None
    later = last + series.base.seconds
    with store.engine.begin() as conn:
        repo.upsert_bars(conn, symbol, series.base.name, [BarRow(2, later, price, price, price, price, 0.0)])
    return later
