"""Orders: placing (validation, idempotency, buying power under a portfolio row lock), cancelling,
replacing, and turning a signal into a risk-sized bracket order.

Two orders placed at the same moment in one portfolio cannot spend the same cash: placement locks
the portfolio's row (SELECT ... FOR UPDATE on PostgreSQL, the write lock on SQLite) before it reads
buying power, so the second placement sees the first one's working order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import (
    Instrument,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Portfolio,
    Side,
    TimeInForce,
)
from business.paper_trading.domain.portfolios import book_of, owned_portfolio, working_exposure
from business.paper_trading.domain.ports import PaperRepository
from business.paper_trading.domain.signal_results import encode_models
from service_runtime.caller import Caller
from service_runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

MAX_KEY = 64
MAX_PREDICTION_ID = 64  # the column's size
# Prices above this are typing errors, and their tick arithmetic would overflow a float.
MAX_PRICE = 1e12


@dataclass(frozen=True)
class OrderRequest:
    portfolio_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: int
    time_in_force: TimeInForce = TimeInForce.GTC
    limit_price: float | None = None
    stop_price: float | None = None
    take_profit_price: float | None = None
    stop_loss_price: float | None = None
    idempotency_key: str | None = None
    prediction_id: str | None = None
    signal_models: str | None = None


def on_grid(value: float, step: float) -> bool:
    ticks = value / step
    return abs(ticks - round(ticks)) <= 1e-6


def check_price_range(field: str, value: float) -> None:
    if not (math.isfinite(value) and 0 < value <= MAX_PRICE):
        raise InvalidArgument.field(field, f"must be a positive price of at most {MAX_PRICE:g}")


def _check_price(field: str, value: float | None, instrument: Instrument, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidArgument.field(field, "is required for this order type")
        return
    check_price_range(field, value)
    if not on_grid(value, instrument.tick_size):
        raise InvalidArgument.field(field, f"must be a multiple of the tick size {instrument.tick_size:g}")


def _check_type_price(
    field: str, value: float | None, instrument: Instrument, kind: OrderType, used_by: tuple[OrderType, ...]
) -> None:
    """A price the order type uses is required; one it does not use is refused, not ignored: it
    would stand in for the market price in the buying-power and bracket checks."""
    if value is not None and kind not in used_by:
        raise InvalidArgument.field(field, f"must be left unset for a {kind.value} order")
    _check_price(field, value, instrument, kind in used_by)


def check_order(request: OrderRequest, instrument: Instrument | None) -> Instrument:
    """Field checks: known symbol, quantity on the lot grid, prices on the tick grid, bracket sides."""
    if instrument is None:
        raise InvalidArgument.field("symbol", f"unknown symbol {request.symbol!r}")
    if request.quantity <= 0 or request.quantity % instrument.lot_size:
        raise InvalidArgument.field(
            "quantity", f"must be a positive multiple of the lot size {instrument.lot_size}"
        )
    kind = request.type
    _check_type_price(
        "limit_price", request.limit_price, instrument, kind, (OrderType.LIMIT, OrderType.STOP_LIMIT)
    )
    _check_type_price(
        "stop_price", request.stop_price, instrument, kind, (OrderType.STOP, OrderType.STOP_LIMIT)
    )
    check_key(request.idempotency_key)
    if request.prediction_id is not None and len(request.prediction_id) > MAX_PREDICTION_ID:
        raise InvalidArgument.field("prediction_id", f"at most {MAX_PREDICTION_ID} characters")
    reference = request.limit_price or request.stop_price or instrument.last_close
    _check_price("bracket.take_profit_price", request.take_profit_price, instrument, False)
    _check_price("bracket.stop_loss_price", request.stop_loss_price, instrument, False)
    if reference is not None:
        sign = request.side.sign
        if request.take_profit_price is not None and (request.take_profit_price - reference) * sign <= 0:
            raise InvalidArgument.field(
                "bracket.take_profit_price", "must be beyond the entry in the trade's favour"
            )
        if request.stop_loss_price is not None and (request.stop_loss_price - reference) * sign >= 0:
            raise InvalidArgument.field(
                "bracket.stop_loss_price", "must be beyond the entry against the trade"
            )
    return instrument


def check_key(idempotency_key: str | None) -> None:
    if idempotency_key is not None and len(idempotency_key) > MAX_KEY:
        raise InvalidArgument.field("idempotency_key", f"at most {MAX_KEY} characters")


def check_buying_power(
    repo: PaperRepository, request: OrderRequest, instrument: Instrument, portfolio: Portfolio
) -> None:
    """The margin rule at placement: positions' and working entries' gross exposure plus this order's
    notional may not exceed equity. An order that only reduces a position always passes."""
    book = book_of(repo, portfolio)
    held = book.position(request.symbol).quantity
    if held * request.side.sign < 0 and request.quantity <= abs(held):
        return
    reference = request.limit_price or request.stop_price or instrument.last_close
    if reference is None:
        raise FailedPrecondition(f"no price for {request.symbol} yet: wait for its first bar")
    entries = repo.working_entries_of(portfolio.id)
    marks = {**book.marks, **repo.marks([o.symbol for o in entries])}
    available = book.buying_power() - working_exposure(entries, marks)
    needed = request.quantity * reference
    if needed > available:
        raise InvalidArgument.field(
            "quantity",
            f"needs {needed:,.2f} {portfolio.currency} of buying power, {max(available, 0.0):,.2f} available",
        )


def build_orders(
    paper: PaperTrading, caller: Caller, request: OrderRequest, last_bar: int | None
) -> list[Order]:
    """The entry and its bracket legs (pending until the entry fills), in placement order."""
    now = paper.clock()
    entry = Order(
        id=paper.new_id(),
        portfolio_id=request.portfolio_id,
        user_id=caller.subject,
        symbol=request.symbol,
        side=request.side,
        type=request.type,
        quantity=request.quantity,
        time_in_force=request.time_in_force,
        status=OrderStatus.WORKING,
        created_at=now,
        sequence=now_sequence(now),
        limit_price=request.limit_price,
        stop_price=request.stop_price,
        idempotency_key=request.idempotency_key,
        prediction_id=request.prediction_id,
        signal_models=request.signal_models,
        placed_after=last_bar or 0,
        expires_at=None,  # a DAY order's: set by the first bar it meets (matching.py)
    )
    orders = [entry]
    legs = (
        (OrderRole.TAKE_PROFIT, OrderType.LIMIT, request.take_profit_price, None),
        (OrderRole.STOP_LOSS, OrderType.STOP, None, request.stop_loss_price),
    )
    for n, (role, kind, limit, stop) in enumerate(legs, start=1):
        if limit is None and stop is None:
            continue
        orders.append(
            replace(
                entry,
                id=paper.new_id(),
                side=request.side.opposite,
                type=kind,
                role=role,
                parent_id=entry.id,
                status=OrderStatus.PENDING,
                limit_price=limit,
                stop_price=stop,
                time_in_force=TimeInForce.GTC,
                expires_at=None,
                idempotency_key=None,
                sequence=entry.sequence + n,
            )
        )
    return orders


def now_sequence(now: datetime) -> int:
    """Placement order across the service: microseconds since the epoch (ties keep insertion order)."""
    return int(now.timestamp() * 1_000_000) * 4


async def place_order(paper: PaperTrading, caller: Caller, request: OrderRequest) -> list[Order]:
    """Places the order (and its bracket legs); the same idempotency key returns the orders placed first."""

    def work(repo: PaperRepository) -> list[Order]:
        portfolio = owned_portfolio(repo, caller, request.portfolio_id, lock=True)
        if request.idempotency_key:
            existing = repo.orders_by_key(portfolio.id, request.idempotency_key)
            if existing:
                return same_order_again(existing, request)
        instrument = check_order(request, repo.instrument(request.symbol))
        check_buying_power(repo, request, instrument, portfolio)
        orders = build_orders(paper, caller, request, instrument.last_bar_time)
        repo.add_orders(orders)
        return orders

    return await paper.transactions.run(work)


def same_order_again(placed: list[Order], request: OrderRequest) -> list[Order]:
    """A retry (same key) gets the orders placed first; a key reused for another order is refused,
    not answered as if that order had been placed. Compared: what a replace cannot change (symbol,
    side, type, time in force, prediction, which legs); quantity and prices may have been replaced
    since, and a trade signal's size depends on the buying power of the moment."""
    entry = next((order for order in placed if order.role is OrderRole.ENTRY), placed[0])
    legs = {order.role for order in placed if order.role is not OrderRole.ENTRY}
    asked_legs = {
        role
        for role, price in (
            (OrderRole.TAKE_PROFIT, request.take_profit_price),
            (OrderRole.STOP_LOSS, request.stop_loss_price),
        )
        if price is not None
    }
    placed_as = (entry.symbol, entry.side, entry.type, entry.time_in_force, entry.prediction_id, legs)
    asked = (
        request.symbol,
        request.side,
        request.type,
        request.time_in_force,
        request.prediction_id,
        asked_legs,
    )
    if placed_as != asked:
        raise AlreadyExists("idempotency_key was already used for a different order")
    return placed


def owned_order(repo: PaperRepository, caller: Caller, order_id: str) -> Order:
    order = repo.order(caller.subject, order_id, for_update=True) if order_id else None
    if order is None:
        raise NotFound("order not found")
    return order


async def cancel_order(paper: PaperTrading, caller: Caller, order_id: str) -> Order:
    """Cancels a working order and its pending legs (a leg alone: just the leg). Again: no change."""

    def work(repo: PaperRepository) -> Order:
        order = owned_order(repo, caller, order_id)
        owned_portfolio(repo, caller, order.portfolio_id, lock=True)
        if order.status is OrderStatus.CANCELLED:
            return order
        if not order.live:
            raise FailedPrecondition(f"the order is {order.status.value}, it can no longer be cancelled")
        cancelled = [order] + [leg for leg in repo.legs_of(order.id) if leg.live]
        for each in cancelled:
            each.status = OrderStatus.CANCELLED
            each.reason = "cancelled by the user"
        repo.save_orders(cancelled)
        return order

    return await paper.transactions.run(work)


async def replace_order(
    paper: PaperTrading,
    caller: Caller,
    order_id: str,
    quantity: int | None,
    limit_price: float | None,
    stop_price: float | None,
) -> Order:
    """Changes a working order's quantity and prices, checked like a new order (buying power without
    the order's own old exposure)."""

    def work(repo: PaperRepository) -> Order:
        order = owned_order(repo, caller, order_id)
        portfolio = owned_portfolio(repo, caller, order.portfolio_id, lock=True)
        if order.status is not OrderStatus.WORKING and order.status is not OrderStatus.PENDING:
            raise FailedPrecondition(f"the order is {order.status.value}, it can no longer be replaced")
        if order.role is not OrderRole.ENTRY and quantity and quantity != order.quantity:
            # A leg closes what its entry opened: resized, a stop-loss would close part of it.
            raise InvalidArgument.field("quantity", "a bracket leg's quantity follows its entry's")
        request = OrderRequest(
            portfolio_id=order.portfolio_id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            quantity=quantity or order.quantity,
            limit_price=limit_price if limit_price is not None else order.limit_price,
            stop_price=stop_price if stop_price is not None else order.stop_price,
        )
        instrument = check_order(request, repo.instrument(order.symbol))
        check_bracket_after_replace(repo, order, request, instrument)
        if order.role is OrderRole.ENTRY:
            previous_status, order.status = order.status, OrderStatus.CANCELLED
            repo.save_orders([order])  # out of the working exposure while the new size is checked
            check_buying_power(repo, request, instrument, portfolio)
            order.status = previous_status
        order.quantity, order.limit_price, order.stop_price = (
            request.quantity,
            request.limit_price,
            request.stop_price,
        )
        repo.save_orders([order])
        return order

    return await paper.transactions.run(work)


def check_bracket_after_replace(
    repo: PaperRepository, order: Order, request: OrderRequest, instrument: Instrument
) -> None:
    """A replaced entry keeps its live legs beyond its new price, and a replaced leg stays beyond its
    entry, as check_order requires of a new bracket order."""
    if order.role is OrderRole.ENTRY:
        entry = request
        legs = [leg for leg in repo.legs_of(order.id) if leg.live]
    else:
        parent = repo.order(order.user_id, order.parent_id) if order.parent_id else None
        if parent is None:
            return
        entry = OrderRequest(
            portfolio_id=parent.portfolio_id,
            symbol=parent.symbol,
            side=parent.side,
            type=parent.type,
            quantity=parent.quantity,
            limit_price=parent.limit_price,
            stop_price=parent.stop_price,
        )
        legs = [replace(order, limit_price=request.limit_price, stop_price=request.stop_price)]
    take_profit = next((leg.limit_price for leg in legs if leg.role is OrderRole.TAKE_PROFIT), None)
    stop_loss = next((leg.stop_price for leg in legs if leg.role is OrderRole.STOP_LOSS), None)
    if take_profit is None and stop_loss is None:
        return  # no bracket: replace_order has checked the order itself already
    try:
        check_order(replace(entry, take_profit_price=take_profit, stop_loss_price=stop_loss), instrument)
    except InvalidArgument as refused:
        changed = "limit_price" if request.limit_price is not None else "stop_price"
        raise InvalidArgument.field(
            changed, f"would leave the bracket wrong: {refused.violations[0].description}"
        ) from refused


@dataclass(frozen=True)
class SignalTrade:
    portfolio_id: str
    symbol: str
    side: Side
    entry: float
    take_profit: float
    stop_loss: float
    risk_percent: float
    prediction_id: str
    idempotency_key: str | None = None
    # (name, version) of the models the signal came from.
    models: tuple[tuple[str, str], ...] = ()


def risk_sized_quantity(equity: float, risk_percent: float, entry: float, stop_loss: float, lot: int) -> int:
    """Whole lots such that hitting the stop loses at most `risk_percent` of equity."""
    per_unit = abs(entry - stop_loss)
    units = math.floor(equity * risk_percent / 100 / per_unit)
    return units - units % lot


def check_signal(signal: SignalTrade) -> None:
    if not 0 < signal.risk_percent <= 100:
        raise InvalidArgument.field("risk_percent", "must be in (0, 100]")
    for field in ("entry", "take_profit", "stop_loss"):
        check_price_range(field, getattr(signal, field))
    if (signal.stop_loss - signal.entry) * signal.side.sign >= 0:
        raise InvalidArgument.field("stop_loss", "must be beyond the entry against the trade")
    if not signal.prediction_id:
        raise InvalidArgument.field("prediction_id", "is required")
    if len(signal.prediction_id) > MAX_PREDICTION_ID:
        raise InvalidArgument.field("prediction_id", f"at most {MAX_PREDICTION_ID} characters")
    check_key(signal.idempotency_key)


def signal_quantity(
    repo: PaperRepository, portfolio: Portfolio, signal: SignalTrade, instrument: Instrument
) -> int:
    """Whole lots risking at most `risk_percent` of equity at the stop, capped by buying power (with
    room for the fill moving past the entry): the margin rule holds."""
    if abs(signal.entry - signal.stop_loss) < instrument.tick_size:
        raise InvalidArgument.field(
            "stop_loss", f"must be at least one tick ({instrument.tick_size:g}) from the entry"
        )
    book = book_of(repo, portfolio)
    entries = repo.working_entries_of(portfolio.id)
    available = book.buying_power() - working_exposure(entries, {**book.marks, **repo.marks([signal.symbol])})
    lot = instrument.lot_size
    by_risk = risk_sized_quantity(book.equity(), signal.risk_percent, signal.entry, signal.stop_loss, lot)
    affordable = math.floor(max(available, 0.0) * 0.98 / signal.entry)
    return min(by_risk, affordable - affordable % lot)


# What place_order's checks call a trade signal's fields.
_SIGNAL_FIELDS = {
    "bracket.take_profit_price": "take_profit",
    "bracket.stop_loss_price": "stop_loss",
    "quantity": "risk_percent",
}


def signal_request(signal: SignalTrade, quantity: int, tick: float, models: str | None) -> OrderRequest:
    """The market bracket order a signal places: its levels on the tick grid."""
    return OrderRequest(
        portfolio_id=signal.portfolio_id,
        symbol=signal.symbol,
        side=signal.side,
        type=OrderType.MARKET,
        quantity=quantity,
        take_profit_price=round(round(signal.take_profit / tick) * tick, 10),
        stop_loss_price=round(round(signal.stop_loss / tick) * tick, 10),
        idempotency_key=signal.idempotency_key,
        prediction_id=signal.prediction_id,
        signal_models=models,
    )


async def trade_signal(paper: PaperTrading, caller: Caller, signal: SignalTrade) -> list[Order]:
    """A signal becomes a market bracket order: take-profit and stop-loss from the signal, sized by
    risk (capped by buying power); the orders keep the prediction id. The same idempotency key
    returns the orders placed first, however the portfolio changed since."""
    check_signal(signal)
    models = encode_models(signal.models)

    def size(repo: PaperRepository) -> list[Order] | tuple[int, Instrument]:
        portfolio = owned_portfolio(repo, caller, signal.portfolio_id)
        if signal.idempotency_key:
            placed = repo.orders_by_key(portfolio.id, signal.idempotency_key)
            if placed:
                return same_order_again(placed, signal_request(signal, placed[0].quantity, 1.0, models))
        instrument = repo.instrument(signal.symbol)
        if instrument is None:
            raise InvalidArgument.field("symbol", f"unknown symbol {signal.symbol!r}")
        return signal_quantity(repo, portfolio, signal, instrument), instrument

    sized = await paper.transactions.run(size)
    if isinstance(sized, list):
        return sized
    quantity, instrument = sized
    if quantity <= 0:
        raise InvalidArgument.field("risk_percent", "too small for one lot at this stop distance")
    request = signal_request(signal, quantity, instrument.tick_size, models)
    try:
        return await place_order(paper, caller, request)
    except InvalidArgument as refused:
        raise InvalidArgument(
            *(replace(v, field=_SIGNAL_FIELDS.get(v.field, v.field)) for v in refused.violations)
        ) from refused
