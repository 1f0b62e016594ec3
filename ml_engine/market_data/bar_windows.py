"""Load a window of bars at any timeframe the stored data supports, resampling when needed.

Shared by history, indicators and backtests, so all three see exactly the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.resample import resample
from ml_engine.market_data.domain.symbols import normalize_symbol
from ml_engine.market_data.domain.timeframes import TIMEFRAMES, Timeframe, parse_timeframe
from service_runtime.errors import InvalidArgument, NotFound


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
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def resolve(self, symbol_text: str, timeframe_text: str) -> Series:
        symbol = normalize_symbol(symbol_text)
        with self.engine.connect() as conn:
            stored = repo.get_symbol(conn, symbol)
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
        with self.engine.connect() as conn:
            last = repo.last_bar_time(conn, series.symbol, base.name)
            data_end = last + base.seconds if last is not None else 0
            if base_end is not None:
                data_end = min(data_end, base_end)
            while True:
                raw = repo.load_bars(
                    conn, series.symbol, base.name, start=base_start, end=base_end, latest=fetch
                )
                everything = len(raw) < fetch
                bars = resample(raw, base, target, data_end) if ratio > 1 else raw
                # When the read was cut by `fetch`, the oldest bucket may miss some of its bars.
                usable = bars if everything or ratio == 1 else bars.slice(1)
                if everything or len(usable) > limit:
                    break
                fetch *= 2  # gaps (weekends, holidays) left too few buckets: read further back
        has_earlier = len(usable) > limit
        return BarWindow(usable.slice(len(usable) - min(limit, len(usable))), has_earlier)
