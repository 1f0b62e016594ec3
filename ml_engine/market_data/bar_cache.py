"""The most recent stored bars of each symbol, held in memory: series reads without a database
round trip and without decoding rows.

One entry per (symbol, stored timeframe): a contiguous tail of the stored bars, oldest first,
and whether it starts at the symbol's first bar. A request whose bars all lie in the tail is a
slice of it (numpy views, read-only: no one can change a cached bar by accident). Resampled
timeframes are computed from these base bars, as before.

Bounded: at most `max_bars` bars in all (about 48 bytes each), least recently used tails go
first. Invalidated per symbol by this engine's imports and by each change the BarClock sees (a new
last bar, the same event that refreshes latest-bar predictions, or a new revision of the symbol's
bars). What another process writes, a correction of older bars included, becomes visible with that
clock's poll (`ML_BAR_POLL_INTERVAL_S`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ml_engine.market_data.data.repository import StoredSymbol
from ml_engine.market_data.domain.bars import Bars

# A tail read on a miss is at least this long: later requests for a little more history (paging,
# a longer chart) are then answered from memory too.
MIN_TAIL_BARS = 5_000


def _read_only(bars: Bars) -> Bars:
    for column in (bars.times, bars.open, bars.high, bars.low, bars.close, bars.volume):
        column.flags.writeable = False
    return bars


@dataclass(frozen=True)
class Tail:
    """The most recent stored bars of a symbol; `complete`: they start at its first stored bar."""

    bars: Bars
    complete: bool

    @property
    def last_time(self) -> int | None:
        return int(self.bars.times[-1]) if len(self.bars) else None

    def window(self, start: int | None, end: int | None, latest: int) -> Bars | None:
        """The `latest` most recent bars with start <= time < end, or None when stored bars the
        answer needs may lie before the tail."""
        times = self.bars.times
        hi = len(times) if end is None else int(np.searchsorted(times, end, "left"))
        lo = 0 if start is None else int(np.searchsorted(times, start, "left"))
        lo = max(lo, hi - latest)
        # Stored bars before the tail matter unless the tail holds enough bars before `end`, or
        # starts at the first stored bar, or the window starts inside it.
        starts_inside = start is not None and len(times) > 0 and start >= int(times[0])
        if not (self.complete or hi >= latest or starts_inside):
            return None
        return self.bars.slice(lo, hi) if lo < hi else Bars.empty()


class BarCache:
    def __init__(self, max_bars: int) -> None:
        self.max_bars = max_bars
        self._tails: OrderedDict[tuple[str, str], Tail] = OrderedDict()
        self._symbols: dict[str, StoredSymbol] = {}
        self._held = 0
        # Bumped by forget(): a read that started before it does not store what it read.
        self._generation: dict[str, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_bars > 0

    @property
    def held_bars(self) -> int:
        return self._held

    def generation(self, symbol: str) -> int:
        with self._lock:
            return self._generation.get(symbol, 0)

    def symbol(self, symbol: str) -> StoredSymbol | None:
        with self._lock:
            return self._symbols.get(symbol)

    def keep_symbol(self, stored: StoredSymbol, generation: int) -> None:
        with self._lock:
            if self.enabled and self._generation.get(stored.info.symbol, 0) == generation:
                self._symbols[stored.info.symbol] = stored

    def tail(self, symbol: str, timeframe: str) -> Tail | None:
        with self._lock:
            found = self._tails.get((symbol, timeframe))
            if found is None:
                self.misses += 1
                return None
            self._tails.move_to_end((symbol, timeframe))
            self.hits += 1
            return found

    def keep_tail(self, symbol: str, timeframe: str, bars: Bars, complete: bool, generation: int) -> Tail:
        """Stores the tail unless it is over the bound or the symbol was forgotten since `generation`."""
        tail = Tail(_read_only(bars), complete)
        with self._lock:
            if len(bars) > self.max_bars or self._generation.get(symbol, 0) != generation:
                return tail
            old = self._tails.pop((symbol, timeframe), None)
            if old is not None:
                self._held -= len(old.bars)
            self._tails[(symbol, timeframe)] = tail
            self._held += len(bars)
            while self._held > self.max_bars:
                _, evicted = self._tails.popitem(last=False)
                self._held -= len(evicted.bars)
        return tail

    def forget(self, symbol: str) -> None:
        """New or changed bars of `symbol` (an import, a new last bar): drop what is held of it."""
        with self._lock:
            self._generation[symbol] = self._generation.get(symbol, 0) + 1
            self._symbols.pop(symbol, None)
            for key in [k for k in self._tails if k[0] == symbol]:
                self._held -= len(self._tails.pop(key).bars)
