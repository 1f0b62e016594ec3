"""The interface every market feed implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from ml_engine.market_data.domain.timeframes import Timeframe


@dataclass(frozen=True)
class FeedBar:
    """One bar as a feed publishes it: closed (`complete`) unless the feed streams partial bars."""

    symbol: str
    timeframe: str
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    complete: bool = True


class MarketFeed(Protocol):
    def bars(self, symbol: str, timeframe: Timeframe, after: int | None = None) -> AsyncIterator[FeedBar]:
        """New bars of `symbol` at `timeframe`, in time order, until the consumer stops iterating.

        `after` (epoch seconds, optional) is a resume point: a feed that replays stored bars starts
        at the first one after it; a live feed, whose bars are all new, may ignore it."""
        ...
