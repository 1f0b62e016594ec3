"""The last stored bar of every symbol, held in memory: what "the latest bar" of a request is,
known without a database round trip.

A new stored bar is the event that makes a latest-bar prediction out of date. Writers in this
process (ImportBars) refresh the clock as soon as they commit; bars written by another process
(`make import-bars`, a live feed's writer, another engine's ImportBars) are seen by the poll
(`ML_BAR_POLL_INTERVAL_S`), one read of every symbol's last bar time and bar revision (which every
write moves, so a correction of past bars is seen too). Listeners hear of each symbol whose last bar
or revision changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.timeframes import TIMEFRAMES, Timeframe

log = logging.getLogger(__name__)

NewBarListener = Callable[[str], None]


@dataclass(frozen=True)
class LastBar:
    """A symbol's stored timeframe, the open time of its last stored bar (None: no bar yet) and the
    revision of its bars (moved by every write)."""

    symbol: str
    base: Timeframe
    time: int | None
    revision: int = 0


class BarClock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last: dict[str, LastBar] = {}
        self._listeners: list[NewBarListener] = []
        self.refreshes = 0

    def last(self, symbol: str) -> LastBar | None:
        """The symbol's last stored bar as of the latest refresh; None before the symbol is known."""
        return self._last.get(symbol)

    def on_new_bar(self, listener: NewBarListener) -> None:
        """`listener(symbol)` after each refresh that saw the symbol's last bar (or its bars) change."""
        self._listeners.append(listener)

    async def refresh(self) -> list[str]:
        """Reads every symbol's last bar (in a worker thread) and tells the listeners which changed."""
        read = await asyncio.to_thread(self._read)
        return self._apply(read)

    def _read(self) -> dict[str, LastBar]:
        with self.engine.connect() as conn:
            rows = repo.last_bar_times(conn)
        return {
            symbol: LastBar(symbol, TIMEFRAMES[base], time, revision)
            for symbol, (base, time, revision) in rows.items()
            if base in TIMEFRAMES
        }

    def _apply(self, read: dict[str, LastBar]) -> list[str]:
        """On the event loop: swap the table in, then notify (a listener error is logged, not raised)."""
        changed = [symbol for symbol, bar in read.items() if self._last.get(symbol) != bar]
        self._last = read
        self.refreshes += 1
        for symbol in changed:
            for listener in self._listeners:
                try:
                    listener(symbol)
                except Exception:
                    log.exception("new-bar listener failed for %s", symbol)
        return changed

    async def run(self, interval_s: float) -> None:
        """Refresh now, then every `interval_s` (0: once); a failed read is logged and retried."""
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("could not read the last stored bars")
            if interval_s <= 0:
                return
            await asyncio.sleep(interval_s)
