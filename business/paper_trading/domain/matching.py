"""Filling orders on one bar, with the backtester's own fill model (service_runtime.fill_model).

Per bar of a symbol, in the backtester's order of operations:
1. Working entry orders, in placement order: market orders at the open, limit / stop / stop-limit
   orders where the bar's range reaches them. The part of an order that closes a position fills at
   the fill model's price; the part that opens one pays the slippage (entries only, as backtesting.py).
   An order sized by a fraction of equity (`size_fraction`) gets its whole units at the fill, with the
   backtester's sizing expression; none affordable rejects it, as the backtester cancels it.
2. Bracket legs (take-profit and stop-loss, one cancels the other), the entry bar included: the stop
   is checked first and wins when both levels are inside the bar (`fill_model.protective_exit`).
3. Every portfolio touched is marked to the close: one equity point per portfolio and bar.
Day orders expire on the first bar at or after the end of the UTC day of the first bar they met.

Pure: the caller loads the live orders and the portfolios' books, and stores what comes back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from business.paper_trading.domain.entities import (
    CASH,
    COMMISSION,
    SECURITIES,
    Bar,
    Costs,
    EquityPoint,
    Fill,
    LedgerEntry,
    LedgerLine,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    PortfolioBook,
    TimeInForce,
    to_minor,
)
from service_runtime import fill_model

SECONDS_PER_DAY = 86_400


@dataclass
class BarOutcome:
    """What one bar changed: fills, their ledger entries, orders whose state changed, equity points."""

    fills: list[Fill] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    equity: list[EquityPoint] = field(default_factory=list)


def raw_fill_price(order: Order, bar: Bar) -> float:
    """The fill model's price for `order` on `bar`, NaN when the bar does not fill it."""
    side = order.side.sign
    if order.type is OrderType.MARKET:
        return bar.open
    if order.type is OrderType.LIMIT:
        return fill_model.limit_fill_price(side, bar.open, bar.high, bar.low, _price(order.limit_price))
    if order.type is OrderType.STOP:
        return fill_model.stop_fill_price(side, bar.open, bar.high, bar.low, _price(order.stop_price))
    return fill_model.stop_limit_fill_price(
        side, bar.open, bar.high, bar.low, _price(order.stop_price), _price(order.limit_price)
    )


def _price(value: float | None) -> float:
    return math.nan if value is None else value


class BarMatcher:
    """Fills one bar's orders against the portfolios' books (mutated in place)."""

    def __init__(
        self, bar: Bar, books: dict[str, PortfolioBook], costs: Costs, new_id: Callable[[], str]
    ) -> None:
        self.bar = bar
        self.books = books
        self.costs = costs
        self.new_id = new_id
        self.outcome = BarOutcome()
        self.touched: set[str] = set()

    def run(self, orders: Iterable[Order]) -> BarOutcome:
        ordered = sorted(orders, key=lambda o: o.sequence)
        legs: dict[str, list[Order]] = {}
        for order in ordered:
            if order.parent_id is not None:
                legs.setdefault(order.parent_id, []).append(order)
        for book in self.books.values():
            if book.positions.get(self.bar.symbol) is not None:
                book.marks[self.bar.symbol] = self.bar.open
        for order in ordered:
            if order.role is OrderRole.ENTRY and order.status is OrderStatus.WORKING:
                self._entry(order, legs.get(order.id, []))
        for group in legs.values():
            self._bracket([leg for leg in group if leg.status is OrderStatus.WORKING])
        self._mark_to_close()
        return self.outcome

    # 1. Entries ---------------------------------------------------------------------------------
    def _entry(self, order: Order, legs: list[Order]) -> None:
        bar = self.bar
        if bar.time <= order.placed_after:
            return
        if order.time_in_force is TimeInForce.DAY and order.expires_at is None:
            self._start_day(order)
        if order.expires_at is not None and bar.time >= order.expires_at:
            self._finish(order, OrderStatus.EXPIRED, "day order expired")
            for leg in legs:
                self._finish(leg, OrderStatus.CANCELLED, "entry expired")
            return
        raw = raw_fill_price(order, bar)
        if math.isnan(raw):
            return
        book = self.books[order.portfolio_id]
        held = book.position(order.symbol).quantity
        quantity = order.quantity
        if order.size_fraction is not None:
            units = fill_model.affordable_units(
                book.equity(),
                raw,
                order.side.sign,
                self.costs.commission,
                self.costs.slippage,
                order.size_fraction,
            )
            quantity = int(units)
        closing = min(quantity, abs(held)) if held * order.side.sign < 0 else 0
        opening = quantity - closing
        entry = fill_model.entry_price(raw, order.side.sign, self.costs.slippage)
        if quantity <= 0 or (
            order.size_fraction is None
            and opening > 0
            and not self._affordable(book, opening, entry, closing)
        ):
            self._finish(order, OrderStatus.REJECTED, "not enough buying power at the fill")
            for leg in legs:
                self._finish(leg, OrderStatus.CANCELLED, "entry rejected")
            return
        if closing:
            self._fill(order, closing, raw)
        if opening:
            self._fill(order, opening, entry)
        order.quantity = quantity
        order.fill_price = entry if opening else raw
        self._finish(order, OrderStatus.FILLED, "")
        for leg in legs:
            self._activate(leg, order)

    def _affordable(self, book: PortfolioBook, opening: int, price: float, closing: int) -> bool:
        needed = opening * price * (1 + self.costs.commission)
        freed = closing * price  # closing first shrinks the gross exposure
        return needed <= book.buying_power() + freed

    def _activate(self, leg: Order, entry: Order) -> None:
        """A bracket leg starts working when its entry fills, for the entry's quantity; legs given as
        fractions of the entry price get their levels from the fill (the backtester's bracket rule)."""
        assert entry.fill_price is not None
        leg.quantity = entry.quantity
        stop, target = fill_model.bracket_prices(
            entry.fill_price,
            entry.side.sign,
            _price(entry.stop_loss_fraction),
            _price(entry.take_profit_fraction),
        )
        if leg.role is OrderRole.STOP_LOSS and entry.stop_loss_fraction is not None:
            leg.stop_price = stop
        if leg.role is OrderRole.TAKE_PROFIT and entry.take_profit_fraction is not None:
            leg.limit_price = target
        leg.placed_after = self.bar.time - 1  # the entry bar itself can reach a leg
        leg.status = OrderStatus.WORKING
        self.outcome.orders[leg.id] = leg

    # 2. Brackets --------------------------------------------------------------------------------
    def _bracket(self, legs: list[Order]) -> None:
        live = [leg for leg in legs if leg.placed_after < self.bar.time]
        if not live:
            return
        first = live[0]
        held = self.books[first.portfolio_id].position(first.symbol).quantity
        # Legs close the entry's position; once it is gone (closed by hand) they have nothing to do.
        if held * first.side.sign >= 0:
            for leg in live:
                self._finish(leg, OrderStatus.CANCELLED, "position already closed")
            return
        stop = next((leg for leg in live if leg.role is OrderRole.STOP_LOSS), None)
        target = next((leg for leg in live if leg.role is OrderRole.TAKE_PROFIT), None)
        quantity = min(first.quantity, abs(held))
        reason, price = fill_model.protective_exit(
            math.copysign(quantity, held),
            self.bar.open,
            self.bar.high,
            self.bar.low,
            _price(stop.stop_price if stop else None),
            _price(target.limit_price if target else None),
            stop is not None,
            target is not None,
        )
        if reason == fill_model.EXIT_NONE:
            return
        filled = stop if reason == fill_model.EXIT_STOP_LOSS else target
        assert filled is not None
        self._fill(filled, quantity, price)
        filled.fill_price = price
        self._finish(filled, OrderStatus.FILLED, "")
        for leg in live:
            if leg is not filled:
                self._finish(leg, OrderStatus.CANCELLED, "one cancels the other")

    # Bookkeeping --------------------------------------------------------------------------------
    def _start_day(self, order: Order) -> None:
        """A day order lives through the UTC day of the first bar it meets. The bar's clock, not
        the wall clock: a replayed feed (`make run`'s) runs years behind it, and its day orders
        would never expire."""
        day = self.bar.time - self.bar.time % SECONDS_PER_DAY
        order.expires_at = day + SECONDS_PER_DAY
        self.outcome.orders[order.id] = order

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status = status
        order.reason = reason
        if status is OrderStatus.FILLED:
            order.filled_at = self.bar.time
        self.outcome.orders[order.id] = order

    def _fill(self, order: Order, quantity: int, price: float) -> None:
        book = self.books[order.portfolio_id]
        scale = book.portfolio.scale
        value = to_minor(quantity * price, scale)
        commission = to_minor(fill_model.commission_on(quantity, price, self.costs.commission), scale)
        direction = 1 if order.side.sign > 0 else -1
        fill = Fill(
            id=self.new_id(),
            order_id=order.id,
            portfolio_id=order.portfolio_id,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            commission_minor=commission,
            bar_time=self.bar.time,
        )
        lines = [LedgerLine(CASH, -direction * value), LedgerLine(SECURITIES, direction * value)]
        if commission:
            lines += [LedgerLine(CASH, -commission), LedgerLine(COMMISSION, commission)]
        self.outcome.ledger.append(
            LedgerEntry(order.portfolio_id, f"{order.side} {quantity} {order.symbol}", tuple(lines), fill.id)
        )
        book.portfolio.cash_minor += -direction * value - commission
        _apply_to_position(book, order.symbol, direction * quantity, price, scale)
        self.outcome.fills.append(fill)
        self.touched.add(order.portfolio_id)

    def _mark_to_close(self) -> None:
        for portfolio_id, book in self.books.items():
            position = book.positions.get(self.bar.symbol)
            if position is None:
                continue
            book.marks[self.bar.symbol] = self.bar.close
            if position.quantity != 0 or portfolio_id in self.touched:
                self.outcome.equity.append(
                    EquityPoint(portfolio_id, self.bar.time, to_minor(book.equity(), book.portfolio.scale))
                )


def _apply_to_position(book: PortfolioBook, symbol: str, signed: int, price: float, scale: int) -> None:
    """Average price and realised P&L (commission apart) after a fill of `signed` units at `price`."""
    position = book.position(symbol)
    held = position.quantity
    if held == 0 or (held > 0) == (signed > 0):
        total = abs(held) + abs(signed)
        position.average_price = (abs(held) * position.average_price + abs(signed) * price) / total
        position.quantity = held + signed
        return
    closing = min(abs(signed), abs(held))
    position.realised_pnl_minor += to_minor(
        (price - position.average_price) * closing * (1 if held > 0 else -1), scale
    )
    position.quantity = held + signed
    if position.quantity == 0:
        position.average_price = 0.0
    elif (position.quantity > 0) != (held > 0):
        position.average_price = price  # flipped: the rest opened at this price


def process_bar(
    bar: Bar,
    orders: Iterable[Order],
    books: dict[str, PortfolioBook],
    costs: Costs,
    new_id: Callable[[], str],
) -> BarOutcome:
    """Fills `orders` (the symbol's live orders) on `bar`; `books` must hold every portfolio with a
    live order or a position in the symbol."""
    return BarMatcher(bar, books, costs, new_id).run(orders)
