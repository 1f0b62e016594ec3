"""Load a window of bars at any timeframe the stored data supports, resampling when needed.

Shared by history, indicators and backtests, so all three see exactly the same bars. Reads go
through the BarCache (the most recent bars of each symbol in memory) when one is given.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ml_engine.market_data.bar_cache import MIN_TAIL_BARS, BarCache
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.resample import resample
from ml_engine.market_data.domain.symbols import normalize_symbol
from ml_engine.market_data.domain.timeframes import TIMEFRAMES, Timeframe, parse_timeframe
from service_runtime.errors import InvalidArgument, NotFound

_Connection = Callable[[], Connection]


@dataclass(frozen=True)
class BarWindow:
    """The bars of a request (its Series says which symbol and timeframes they are)."""

    bars: Bars
    # Whether bars before the first one exist inside the requested bounds.
    has_earlier: bool


@dataclass(frozen=True)
class Series:
    """A symbol resolved to its stored timeframe and the timeframe asked for."""

    symbol: str
    base: Timeframe
    target: Timeframe


class BarWindows:
    def __init__(self, engine: Engine, cache: BarCache | None = None) -> None:
        self.engine = engine
        self.cache = cache if cache is not None else BarCache(0)

    def forget(self, symbol: str) -> None:
        """The stored bars of `symbol` changed (an import, a new bar): read them again next time."""
        self.cache.forget(symbol)

    def data_version(self, symbol: str) -> int | None:
        """A number that changes whenever the stored bars of `symbol` do, as far as this engine
        sees (its imports, each new last bar: see bar_cache.py); None with the cache off, when
        nothing here follows the store. What is computed from the bars holds while it is the same."""
        return self.cache.generation(symbol) if self.cache.enabled else None

    def _stored_symbol(self, symbol: str) -> repo.StoredSymbol | None:
        stored = self.cache.symbol(symbol)
        if stored is None:
            generation = self.cache.generation(symbol)
            with self.engine.connect() as conn:
                stored = repo.get_symbol(conn, symbol)
            if stored is not None:
                self.cache.keep_symbol(stored, generation)
        return stored

    def _load(
        self,
        conn: _Connection,
        series: Series,
        window: tuple[int | None, int | None, int],
        last: int | None,
    ) -> Bars:
        """The `latest` most recent base bars with start <= time < end (`window`): from the cached
        tail when it holds them; a read reaching the last stored bar (`last`) that misses reads a
        longer tail and keeps it."""
        start, end, latest = window
        symbol, timeframe = series.symbol, series.base.name
        if not self.cache.enabled:
            return repo.load_bars(conn(), symbol, timeframe, start=start, end=end, latest=latest)
        tail = self.cache.tail(symbol, timeframe)
        if tail is not None:
            hit = tail.window(start, end, latest)
            if hit is not None:
                return hit
        if end is not None and last is not None and end <= last:
            # An older window (paging back, an as-of read): read it, do not keep it.
            return repo.load_bars(conn(), symbol, timeframe, start=start, end=end, latest=latest)
        generation = self.cache.generation(symbol)
        want = max(latest, MIN_TAIL_BARS, 2 * len(tail.bars) if tail is not None else 0)
        bars = repo.load_bars(conn(), symbol, timeframe, latest=want)
        kept = self.cache.keep_tail(symbol, timeframe, bars, len(bars) < want, generation)
        found = kept.window(start, end, latest)
        # None cannot happen (the tail holds `latest` bars, or all of them); read directly anyway.
        return (
            found
            if found is not None
            else repo.load_bars(conn(), symbol, timeframe, start=start, end=end, latest=latest)
        )

    def _last_time(self, conn: _Connection, series: Series) -> int | None:
        tail = self.cache.tail(series.symbol, series.base.name) if self.cache.enabled else None
        if tail is not None:
            return tail.last_time
        return repo.last_bar_time(conn(), series.symbol, series.base.name)

    def last_time(self, series: Series) -> int | None:
        """The time of the last stored base bar: the cached tail's (as fresh as the cache: see
        bar_cache.py), else read from the store."""
        with ExitStack() as opened:
            return self._last_time(lambda: opened.enter_context(self.engine.connect()), series)

    def resolve(self, symbol_text: str, timeframe_text: str) -> Series:
        symbol = normalize_symbol(symbol_text)
        stored = self._stored_symbol(symbol)
        if stored is None:
            raise NotFound(f"unknown symbol {symbol}")
        base = parse_timeframe(stored.base_timeframe)
        if not timeframe_text.strip():
            return Series(symbol, base, base)
        target = parse_timeframe(timeframe_text)
        if not base.divides(target):
            coarser = ", ".join(tf.name for tf in TIMEFRAMES.values() if base.divides(tf))
            raise InvalidArgument.field(
                "timeframe", f"{symbol} is stored at {base.name}; use one of {coarser}"
            )
        return Series(symbol, base, target)

    def count_base_bars(self, series: Series, start: int | None, end: int | None) -> int:
        """Stored bars behind the window: what a request over it has to read."""
        with self.engine.connect() as conn:
            return repo.count_bars(conn, series.symbol, series.base.name, start=start, end=end)

    def latest(
        self, series: Series, limit: int, start: int | None = None, end: int | None = None
    ) -> BarWindow:
        """The most recent `limit` bars opening in [start, end), oldest first."""
        base, target = series.base, series.target
        # Whole buckets only: a bucket belongs to the window when it opens inside it.
        base_start = target.align_up(start) if start is not None else None
        base_end = target.align_up(end) if end is not None else None
        ratio = target.seconds // base.seconds
        fetch = (limit + 1) * ratio
        with ExitStack() as opened:
            # Opened only when the cache cannot answer.
            def conn() -> Connection:
                if not opened_conns:
                    opened_conns.append(opened.enter_context(self.engine.connect()))
                return opened_conns[0]

            opened_conns: list[Connection] = []
            last = self._last_time(conn, series)
            data_end = last + base.seconds if last is not None else 0
            if base_end is not None:
                data_end = min(data_end, base_end)
            while True:
                raw = self._load(conn, series, (base_start, base_end, fetch), last)
                everything = len(raw) < fetch
                bars = resample(raw, base, target, data_end) if ratio > 1 else raw
                # When the read was cut by `fetch`, the oldest bucket may miss some of its bars.
                usable = bars if everything or ratio == 1 else bars.slice(1)
                if everything or len(usable) > limit:
                    break
                fetch *= 2  # gaps (weekends, holidays) left too few buckets: read further back
        has_earlier = len(usable) > limit
        return BarWindow(usable.slice(len(usable) - min(limit, len(usable))), has_earlier)
