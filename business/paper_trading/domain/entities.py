"""Paper trading's values: instruments, portfolios, orders, positions, fills, bars, money."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Digits of the minor unit per ISO 4217 code (default 2).
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}


def minor_scale(currency: str) -> int:
    """Minor units per major unit of `currency` (100 for USD, 1 for JPY)."""
    return int(10 ** _MINOR_DIGITS.get(currency, 2))


def to_minor(amount: float, scale: int) -> int:
    """An amount in major units, rounded half away from zero to whole minor units."""
    scaled = amount * scale
    return int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> float:
        return 1.0 if self is Side.BUY else -1.0

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"


class OrderStatus(StrEnum):
    WORKING = "working"
    PENDING = "pending"  # a bracket leg waiting for its entry
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


class OrderRole(StrEnum):
    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


LIVE_STATUSES = (OrderStatus.WORKING, OrderStatus.PENDING)


@dataclass(frozen=True)
class Instrument:
    """A tradable symbol: its price grid (tick) and quantity grid (lot), and the latest bar seen."""

    symbol: str
    tick_size: float = 0.01
    lot_size: int = 1
    last_bar_time: int | None = None  # epoch seconds of the last bar processed (restart cursor)
    last_close: float | None = None


@dataclass(frozen=True)
class Bar:
    symbol: str
    time: int  # open time, epoch seconds
    open: float
    high: float
    low: float
    close: float


@dataclass(frozen=True)
class Costs:
    """The backtester's cost settings: fractions of traded value (commission) and of price (slippage)."""

    commission: float = 0.0
    slippage: float = 0.0


@dataclass
class Portfolio:
    id: str
    user_id: str
    name: str
    currency: str
    cash_minor: int
    initial_cash_minor: int
    created_at: datetime

    @property
    def scale(self) -> int:
        return minor_scale(self.currency)


@dataclass
class Position:
    portfolio_id: str
    symbol: str
    quantity: int = 0  # negative: short
    average_price: float = 0.0
    realised_pnl_minor: int = 0


@dataclass
class Order:
    id: str
    portfolio_id: str
    user_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: int
    time_in_force: TimeInForce
    status: OrderStatus
    created_at: datetime
    sequence: int = 0  # placement order; fills on one bar follow it
    limit_price: float | None = None
    stop_price: float | None = None
    role: OrderRole = OrderRole.ENTRY
    parent_id: str | None = None
    idempotency_key: str | None = None
    prediction_id: str | None = None
    # The models behind a signal order, "name@version" joined by "," (None: not from a signal).
    signal_models: str | None = None
    # Fills only on bars that open after this time (the last bar known at placement).
    placed_after: int = 0
    # DAY orders: expire on the first bar at or after this time.
    expires_at: int | None = None
    # Sized at the fill to this fraction of equity (the backtester's position_size), quantity 0 until then.
    size_fraction: float | None = None
    # Bracket legs at fractions of the entry fill price (the backtester's stop_loss / take_profit).
    stop_loss_fraction: float | None = None
    take_profit_fraction: float | None = None
    fill_price: float | None = None
    filled_at: int | None = None
    reason: str = ""

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass(frozen=True)
class Fill:
    id: str
    order_id: str
    portfolio_id: str
    symbol: str
    side: Side
    quantity: int
    price: float
    commission_minor: int
    bar_time: int


@dataclass(frozen=True)
class LedgerLine:
    account: str
    amount_minor: int  # debit positive, credit negative; the lines of one entry sum to zero


@dataclass(frozen=True)
class LedgerEntry:
    portfolio_id: str
    memo: str
    lines: tuple[LedgerLine, ...]
    fill_id: str | None = None

    def __post_init__(self) -> None:
        if sum(line.amount_minor for line in self.lines) != 0:
            raise ValueError(f"unbalanced ledger entry {self.memo}: {self.lines}")


# Ledger accounts. Cash is an asset (debit balance); the others are its counterparts.
CASH = "cash"
CAPITAL = "capital"  # the opening deposit
SECURITIES = "securities"  # trade value bought (debit) or sold (credit)
COMMISSION = "commission"  # commission expense


@dataclass
class EquityPoint:
    portfolio_id: str
    time: int
    equity_minor: int


@dataclass
class PortfolioBook:
    """One portfolio as the matcher sees it: cash, positions and the marks of every symbol held."""

    portfolio: Portfolio
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)

    def position(self, symbol: str) -> Position:
        if symbol not in self.positions:
            self.positions[symbol] = Position(self.portfolio.id, symbol)
        return self.positions[symbol]

    def equity(self) -> float:
        """Cash plus every position marked to its latest close, in major units."""
        held = sum(p.quantity * self.marks.get(s, p.average_price) for s, p in self.positions.items())
        return self.portfolio.cash_minor / self.portfolio.scale + held

    def gross_exposure(self) -> float:
        return sum(abs(p.quantity) * self.marks.get(s, p.average_price) for s, p in self.positions.items())

    def buying_power(self) -> float:
        """The margin rule: gross exposure may not exceed equity (leverage 1, shorts included)."""
        return self.equity() - self.gross_exposure()
