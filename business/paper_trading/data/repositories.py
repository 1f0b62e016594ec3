"""Paper trading's repository on SQLAlchemy, inside one transaction's Session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from business.paper_trading.data.tables import (
    EquityPointRow,
    FillRow,
    InstrumentRow,
    LedgerEntryRow,
    LedgerLineRow,
    OrderRow,
    PortfolioRow,
    PositionRow,
)
from business.paper_trading.domain.entities import (
    Bar,
    EquityPoint,
    Fill,
    Instrument,
    LedgerEntry,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Portfolio,
    PortfolioBook,
    Position,
    Side,
    TimeInForce,
)
from business.paper_trading.domain.matching import BarOutcome
from business.shared.database import locked_or_inserted

# ListOrders and ListFills answer the newest this many (docs/paper-trading.md).
LISTED = 500

_ORDER_FIELDS = [
    "id",
    "portfolio_id",
    "user_id",
    "symbol",
    "quantity",
    "sequence",
    "limit_price",
    "stop_price",
    "parent_id",
    "idempotency_key",
    "prediction_id",
    "signal_models",
    "placed_after",
    "expires_at",
    "size_fraction",
    "stop_loss_fraction",
    "take_profit_fraction",
    "fill_price",
    "filled_at",
    "reason",
    "created_at",
]


def _portfolio(row: PortfolioRow) -> Portfolio:
    return Portfolio(
        row.id, row.user_id, row.name, row.currency, row.cash_minor, row.initial_cash_minor, row.created_at
    )


def _order(row: OrderRow) -> Order:
    return Order(
        side=Side(row.side),
        type=OrderType(row.type),
        time_in_force=TimeInForce(row.time_in_force),
        status=OrderStatus(row.status),
        role=OrderRole(row.role),
        **{name: getattr(row, name) for name in _ORDER_FIELDS},
    )


_ENUMS: dict[str, dict[str, Any]] = {
    name: {member.value: member for member in kind}
    for name, kind in (
        ("side", Side),
        ("type", OrderType),
        ("time_in_force", TimeInForce),
        ("status", OrderStatus),
        ("role", OrderRole),
    )
}


def _order_of_mapping(values: dict[str, Any]) -> Order:
    """An order from a plain row (no ORM object, no per-column getattr: the bar's hot path)."""
    del values["live"]
    for name, members in _ENUMS.items():
        values[name] = members[values[name]]
    return Order(**values)


def _write_order(row: OrderRow, order: Order) -> None:
    for name in _ORDER_FIELDS:
        setattr(row, name, getattr(order, name))
    row.side, row.type, row.time_in_force = order.side.value, order.type.value, order.time_in_force.value
    row.status, row.role, row.live = order.status.value, order.role.value, order.live


def _position(row: PositionRow) -> Position:
    return Position(row.portfolio_id, row.symbol, row.quantity, row.average_price, row.realised_pnl_minor)


def _instrument(row: InstrumentRow) -> Instrument:
    return Instrument(row.symbol, row.tick_size, row.lot_size, row.last_bar_time, row.last_close)


class SqlPaperRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # Portfolios and the ledger ---------------------------------------------------------------
    def add_portfolio(self, portfolio: Portfolio) -> None:
        self.session.add(
            PortfolioRow(
                id=portfolio.id,
                user_id=portfolio.user_id,
                name=portfolio.name,
                currency=portfolio.currency,
                cash_minor=portfolio.cash_minor,
                initial_cash_minor=portfolio.initial_cash_minor,
                created_at=portfolio.created_at,
            )
        )
        self.session.flush()

    def portfolio(self, user_id: str, portfolio_id: str, *, for_update: bool = False) -> Portfolio | None:
        if len(portfolio_id) > 36:
            return None
        query = select(PortfolioRow).where(PortfolioRow.id == portfolio_id, PortfolioRow.user_id == user_id)
        row = self.session.scalar(query.with_for_update() if for_update else query)
        return _portfolio(row) if row else None

    def portfolios_of(self, user_id: str) -> list[Portfolio]:
        rows = self.session.scalars(
            select(PortfolioRow).where(PortfolioRow.user_id == user_id).order_by(PortfolioRow.created_at)
        )
        return [_portfolio(row) for row in rows]

    def add_ledger_entry(self, entry: LedgerEntry) -> None:
        row = LedgerEntryRow(
            portfolio_id=entry.portfolio_id,
            fill_id=entry.fill_id,
            memo=entry.memo[:200],
            created_at=datetime.now(UTC),
        )
        self.session.add(row)
        self.session.flush()
        for line in entry.lines:
            self.session.add(
                LedgerLineRow(
                    entry_id=row.id,
                    portfolio_id=entry.portfolio_id,
                    account=line.account,
                    amount_minor=line.amount_minor,
                )
            )

    def ledger_balance(self, portfolio_id: str, account: str) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(LedgerLineRow.amount_minor), 0)).where(
                LedgerLineRow.portfolio_id == portfolio_id, LedgerLineRow.account == account
            )
        )
        return int(total or 0)

    def positions_of(self, portfolio_id: str) -> list[Position]:
        rows = self.session.scalars(select(PositionRow).where(PositionRow.portfolio_id == portfolio_id))
        return [_position(row) for row in rows]

    def equity_history(self, portfolio_id: str) -> list[EquityPoint]:
        rows = self.session.scalars(
            select(EquityPointRow)
            .where(EquityPointRow.portfolio_id == portfolio_id)
            .order_by(EquityPointRow.time)
        )
        return [EquityPoint(row.portfolio_id, row.time, row.equity_minor) for row in rows]

    # Instruments -----------------------------------------------------------------------------
    def instrument(self, symbol: str, *, for_update: bool = False) -> Instrument | None:
        if len(symbol) > 32:
            return None
        row = self.session.get(InstrumentRow, symbol, with_for_update=for_update)
        return _instrument(row) if row else None

    def instrument_to_move(self, symbol: str) -> Instrument:
        row, _ = locked_or_inserted(
            self.session, InstrumentRow, symbol, lambda: _instrument_row(Instrument(symbol))
        )
        return _instrument(row)

    def bar_cursors(self) -> dict[str, int | None]:
        rows = self.session.execute(select(InstrumentRow.symbol, InstrumentRow.last_bar_time)).all()
        return {symbol: last for symbol, last in rows}

    def marks(self, symbols: Sequence[str]) -> dict[str, float]:
        if not symbols:
            return {}
        rows = self.session.execute(
            select(InstrumentRow.symbol, InstrumentRow.last_close).where(
                InstrumentRow.symbol.in_(set(symbols))
            )
        )
        return {symbol: close for symbol, close in rows if close is not None}

    def save_instrument(self, instrument: Instrument) -> None:
        row = self.session.get(InstrumentRow, instrument.symbol)
        if row is None:
            row = InstrumentRow(symbol=instrument.symbol)
            self.session.add(row)
        row.tick_size, row.lot_size = instrument.tick_size, instrument.lot_size
        row.last_bar_time, row.last_close = instrument.last_bar_time, instrument.last_close
        self.session.flush()

    # Orders and fills ------------------------------------------------------------------------
    def orders_by_key(self, portfolio_id: str, key: str) -> list[Order]:
        entry = self.session.scalar(
            select(OrderRow).where(OrderRow.portfolio_id == portfolio_id, OrderRow.idempotency_key == key)
        )
        if entry is None:
            return []
        return [_order(entry), *self.legs_of(entry.id)]

    def add_orders(self, orders: Sequence[Order]) -> None:
        for order in orders:
            row = OrderRow()
            _write_order(row, order)
            self.session.add(row)
        self.session.flush()

    def save_orders(self, orders: Sequence[Order]) -> None:
        for order in orders:
            row = self.session.get(OrderRow, order.id)
            if row is None:
                row = OrderRow()
                self.session.add(row)
            _write_order(row, order)
        self.session.flush()

    def update_orders(self, orders: Sequence[Order]) -> None:
        """Existing orders' changed state, in one executemany (a bar may change thousands)."""
        if not orders:
            return
        rows = []
        for order in orders:
            row = OrderRow()
            _write_order(row, order)
            rows.append({c.key: getattr(row, c.key) for c in OrderRow.__table__.columns})
        self.session.execute(update(OrderRow), rows)

    def order(self, user_id: str, order_id: str, *, for_update: bool = False) -> Order | None:
        if len(order_id) > 36:
            return None
        query = select(OrderRow).where(OrderRow.id == order_id, OrderRow.user_id == user_id)
        row = self.session.scalar(query.with_for_update() if for_update else query)
        return _order(row) if row else None

    def legs_of(self, parent_id: str) -> list[Order]:
        rows = self.session.scalars(
            select(OrderRow).where(OrderRow.parent_id == parent_id).order_by(OrderRow.sequence)
        )
        return [_order(row) for row in rows]

    def orders_of(self, portfolio_id: str) -> list[Order]:
        rows = self.session.scalars(
            select(OrderRow)
            .where(OrderRow.portfolio_id == portfolio_id)
            .order_by(OrderRow.sequence.desc())
            .limit(LISTED)
        )
        return [_order(row) for row in rows]

    def working_entries_of(self, portfolio_id: str) -> list[Order]:
        rows = self.session.scalars(
            select(OrderRow).where(
                OrderRow.portfolio_id == portfolio_id,
                OrderRow.live.is_(True),
                OrderRow.role == OrderRole.ENTRY.value,
            )
        )
        return [_order(row) for row in rows]

    def live_orders(self, symbol: str) -> list[Order]:
        # Plain rows, not ORM objects: a bar reads every live order of its symbol (10,000s).
        rows = self.session.execute(
            select(*OrderRow.__table__.columns)
            .where(OrderRow.symbol == symbol, OrderRow.live.is_(True))
            .order_by(OrderRow.sequence)
            .with_for_update()
        )
        return [_order_of_mapping(dict(row._mapping)) for row in rows]

    def fills_of(self, portfolio_id: str) -> list[Fill]:
        rows = self.session.scalars(
            select(FillRow)
            .where(FillRow.portfolio_id == portfolio_id)
            .order_by(FillRow.bar_time.desc())
            .limit(LISTED)
        )
        return [_fill(row) for row in rows]

    def fill_count(self, portfolio_id: str) -> int:
        count = select(func.count()).select_from(FillRow).where(FillRow.portfolio_id == portfolio_id)
        return int(self.session.scalar(count) or 0)

    def signal_orders_of(self, portfolio_id: str) -> list[Order]:
        # Every one, not the newest LISTED: results per model count them all. Legs keep the
        # entry's prediction id.
        rows = self.session.scalars(
            select(OrderRow)
            .where(OrderRow.portfolio_id == portfolio_id, OrderRow.prediction_id.is_not(None))
            .order_by(OrderRow.sequence)
        )
        return [_order(row) for row in rows]

    def signal_fills_of(self, portfolio_id: str) -> list[Fill]:
        rows = self.session.scalars(
            select(FillRow)
            .join(OrderRow, OrderRow.id == FillRow.order_id)
            .where(FillRow.portfolio_id == portfolio_id, OrderRow.prediction_id.is_not(None))
        )
        return [_fill(row) for row in rows]

    # One bar ---------------------------------------------------------------------------------
    def holders_of(self, symbol: str) -> list[str]:
        return list(
            self.session.scalars(
                select(PositionRow.portfolio_id).where(
                    PositionRow.symbol == symbol, PositionRow.quantity != 0
                )
            )
        )

    def books(self, portfolio_ids: Sequence[str], symbol: str) -> dict[str, PortfolioBook]:
        """The portfolios' books, their rows locked in id order (placements lock the same rows)."""
        if not portfolio_ids:
            return {}
        rows = self.session.scalars(
            select(PortfolioRow)
            .where(PortfolioRow.id.in_(portfolio_ids))
            .order_by(PortfolioRow.id)
            .with_for_update()
        ).all()
        positions: dict[str, dict[str, Position]] = {row.id: {} for row in rows}
        for row in self.session.scalars(
            select(PositionRow).where(PositionRow.portfolio_id.in_(portfolio_ids))
        ):
            positions[row.portfolio_id][row.symbol] = _position(row)
        symbols = {s for held in positions.values() for s in held}
        marks = self.marks(list(symbols))
        return {row.id: PortfolioBook(_portfolio(row), positions[row.id], dict(marks)) for row in rows}

    def save_bar(self, bar: Bar, outcome: BarOutcome, books: dict[str, PortfolioBook]) -> None:
        self.update_orders(list(outcome.orders.values()))
        for fill in outcome.fills:
            self.session.add(
                FillRow(
                    id=fill.id,
                    order_id=fill.order_id,
                    portfolio_id=fill.portfolio_id,
                    symbol=fill.symbol,
                    side=fill.side.value,
                    quantity=fill.quantity,
                    price=fill.price,
                    commission_minor=fill.commission_minor,
                    bar_time=fill.bar_time,
                )
            )
        for entry in outcome.ledger:
            self.add_ledger_entry(entry)
        touched = {fill.portfolio_id for fill in outcome.fills}
        for portfolio_id in touched:
            book = books[portfolio_id]
            self.session.get_one(PortfolioRow, portfolio_id).cash_minor = book.portfolio.cash_minor
            position = book.positions[bar.symbol]
            row = self.session.get(PositionRow, (portfolio_id, bar.symbol))
            if row is None:
                row = PositionRow(portfolio_id=portfolio_id, symbol=bar.symbol)
                self.session.add(row)
            row.quantity, row.average_price = position.quantity, position.average_price
            row.realised_pnl_minor = position.realised_pnl_minor
        for point in outcome.equity:
            self.session.merge(
                EquityPointRow(
                    portfolio_id=point.portfolio_id, time=point.time, equity_minor=point.equity_minor
                )
            )
        self.session.flush()


def _fill(row: FillRow) -> Fill:
    return Fill(
        row.id,
        row.order_id,
        row.portfolio_id,
        row.symbol,
        Side(row.side),
        row.quantity,
        row.price,
        row.commission_minor,
        row.bar_time,
    )


def _instrument_row(instrument: Instrument) -> InstrumentRow:
    return InstrumentRow(
        symbol=instrument.symbol,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        last_bar_time=instrument.last_bar_time,
        last_close=instrument.last_close,
    )
