"""What the alerts feature keeps: watchlists, alert rules, fired alerts, each feed's last
evaluated bar, and saved backtests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    SIGNAL = "signal"
    PRICE_CROSS = "price_cross"
    RANGE_EXIT = "range_exit"


class SignalSide(StrEnum):
    BUY = "buy"
    SELL = "sell"
    ANY = "any"


class CrossDirection(StrEnum):
    UP = "up"
    DOWN = "down"
    ANY = "any"


@dataclass(frozen=True)
class Watchlist:
    id: str
    user_id: str
    name: str
    symbols: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AlertRule:
    id: str
    user_id: str
    symbol: str
    timeframe: str
    kind: AlertKind
    side: SignalSide | None = None
    min_confidence: float = 0.0
    level: float = 0.0
    direction: CrossDirection | None = None
    notify_email: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class Alert:
    """One firing of a rule on one bar."""

    id: str
    rule_id: str
    user_id: str
    symbol: str
    timeframe: str
    kind: AlertKind
    bar_time: int  # epoch seconds, open time of the bar
    close: float
    message: str
    fired_at: datetime
    notify_email: bool = False


@dataclass(frozen=True)
class FeedBar:
    """One bar of a symbol's prediction stream: the bar, the signal and the predicted range
    computed at its close."""

    symbol: str
    timeframe: str
    bar_time: int
    open: float
    high: float
    low: float
    close: float
    action: str  # "buy", "sell" or "hold"
    confidence: float
    predicted_high: float
    predicted_low: float


@dataclass(frozen=True)
class FeedState:
    """The last bar evaluated on one feed (symbol, timeframe): what the next bar is compared with.
    Stored in the same transaction as that bar's firings, so a bar is never evaluated twice."""

    symbol: str
    timeframe: str
    bar_time: int
    close: float
    action: str
    confidence: float
    predicted_high: float
    predicted_low: float
    # Whether that bar left the range predicted at the bar before it.
    out_of_range: bool


@dataclass(frozen=True)
class SavedBacktest:
    id: str
    user_id: str
    name: str
    # The run's configuration and metrics as JSON objects (the contract's field names).
    config: dict[str, Any]
    summary: dict[str, Any]
    symbol: str
    created_at: datetime
