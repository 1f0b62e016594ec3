"""Portfolios: opening one (the deposit is the first ledger entry), reading them with their
positions marked to the latest bar, equity and buying power."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import (
    CAPITAL,
    CASH,
    EquityPoint,
    Fill,
    LedgerEntry,
    LedgerLine,
    Order,
    OrderRole,
    Portfolio,
    PortfolioBook,
    Position,
    to_minor,
)
from business.paper_trading.domain.ports import PaperRepository
from service_runtime.caller import Caller
from service_runtime.errors import InvalidArgument, NotFound
from service_runtime.performance import drawdown, return_stats

MAX_INITIAL_CASH_MINOR = 10**12
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF")


@dataclass(frozen=True)
class PortfolioView:
    portfolio: Portfolio
    equity_minor: int
    buying_power_minor: int
    positions: list[tuple[Position, float]]  # with the mark price
    metrics: PortfolioMetrics | None = None


@dataclass(frozen=True)
class PortfolioMetrics:
    """The backtester's definitions (service_runtime.performance) over the equity history."""

    total_return: float = 0.0
    max_drawdown: float = 0.0
    sharpe: float = 0.0
    win_rate: float = 0.0  # share of symbols traded with a positive realised P&L
    trades: int = 0  # fills


SECONDS_PER_YEAR = 365 * 86400


def portfolio_metrics(
    initial_minor: int, history: list[EquityPoint], positions: list[Position], fills: int
) -> PortfolioMetrics:
    equity = np.array([initial_minor, *(p.equity_minor for p in history)], dtype=np.float64)
    times = np.array([p.time for p in history], dtype=np.int64)
    spacing = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    periods_per_year = SECONDS_PER_YEAR / spacing if spacing > 0 else 1.0
    closed = [p for p in positions if p.realised_pnl_minor != 0]
    return PortfolioMetrics(
        total_return=float(equity[-1] / equity[0] - 1),
        max_drawdown=float(drawdown(equity).max()),
        sharpe=return_stats(equity, periods_per_year).sharpe,
        win_rate=sum(p.realised_pnl_minor > 0 for p in closed) / len(closed) if closed else 0.0,
        trades=fills,
    )


def check_new_portfolio(name: str, currency: str, initial_cash_minor: int) -> None:
    if not name.strip() or len(name) > 100:
        raise InvalidArgument.field("name", "must be 1 to 100 characters")
    if currency not in CURRENCIES:
        raise InvalidArgument.field("currency", f"must be one of {', '.join(CURRENCIES)}")
    if not 0 < initial_cash_minor <= MAX_INITIAL_CASH_MINOR:
        raise InvalidArgument.field("initial_cash_minor", f"must be 1 to {MAX_INITIAL_CASH_MINOR}")


async def create_portfolio(
    paper: PaperTrading, caller: Caller, name: str, currency: str, initial_cash_minor: int
) -> PortfolioView:
    check_new_portfolio(name, currency, initial_cash_minor)
    portfolio = Portfolio(
        id=paper.new_id(),
        user_id=caller.subject,
        name=name.strip(),
        currency=currency,
        cash_minor=initial_cash_minor,
        initial_cash_minor=initial_cash_minor,
        created_at=paper.clock(),
    )

    def work(repo: PaperRepository) -> PortfolioView:
        repo.add_portfolio(portfolio)
        deposit = (LedgerLine(CASH, initial_cash_minor), LedgerLine(CAPITAL, -initial_cash_minor))
        repo.add_ledger_entry(LedgerEntry(portfolio.id, "opening deposit", deposit))
        return view_of(repo, portfolio)

    return await paper.transactions.run(work)


def owned_portfolio(
    repo: PaperRepository, caller: Caller, portfolio_id: str, *, lock: bool = False
) -> Portfolio:
    """The caller's portfolio; NOT_FOUND for an unknown id and for another user's (no hint which)."""
    portfolio = repo.portfolio(caller.subject, portfolio_id, for_update=lock) if portfolio_id else None
    if portfolio is None:
        raise NotFound("portfolio not found")
    return portfolio


def book_of(repo: PaperRepository, portfolio: Portfolio) -> PortfolioBook:
    positions = {p.symbol: p for p in repo.positions_of(portfolio.id)}
    return PortfolioBook(portfolio, positions, repo.marks(list(positions)))


def working_exposure(orders: list[Order], marks: dict[str, float]) -> float:
    """What working entry orders would add to gross exposure, at their limit, stop or the latest close."""
    total = 0.0
    for order in orders:
        if order.role is not OrderRole.ENTRY:
            continue
        price = order.limit_price or order.stop_price or marks.get(order.symbol, 0.0)
        total += order.quantity * price
    return total


def view_of(repo: PaperRepository, portfolio: Portfolio) -> PortfolioView:
    book = book_of(repo, portfolio)
    entries = repo.working_entries_of(portfolio.id)
    marks = {**book.marks, **repo.marks([o.symbol for o in entries])}
    scale = portfolio.scale
    buying_power = book.buying_power() - working_exposure(entries, marks)
    return PortfolioView(
        portfolio=portfolio,
        equity_minor=to_minor(book.equity(), scale),
        buying_power_minor=to_minor(buying_power, scale),
        positions=[
            (p, book.marks.get(p.symbol, p.average_price))
            for p in book.positions.values()
            if p.quantity != 0 or p.realised_pnl_minor != 0
        ],
    )


async def list_portfolios(paper: PaperTrading, caller: Caller) -> list[PortfolioView]:
    def work(repo: PaperRepository) -> list[PortfolioView]:
        return [view_of(repo, p) for p in repo.portfolios_of(caller.subject)]

    return await paper.transactions.run(work)


async def get_portfolio(paper: PaperTrading, caller: Caller, portfolio_id: str) -> PortfolioView:
    """The portfolio, its positions and its metrics over the equity history."""

    def work(repo: PaperRepository) -> PortfolioView:
        portfolio = owned_portfolio(repo, caller, portfolio_id)
        view = view_of(repo, portfolio)
        metrics = portfolio_metrics(
            portfolio.initial_cash_minor,
            repo.equity_history(portfolio.id),
            [p for p, _ in view.positions],
            repo.fill_count(portfolio.id),
        )
        return replace(view, metrics=metrics)

    return await paper.transactions.run(work)


def unrealised_pnl_minor(position: Position, mark: float, scale: int) -> int:
    return to_minor((mark - position.average_price) * position.quantity, scale)


async def orders_of(paper: PaperTrading, caller: Caller, portfolio_id: str) -> list[Order]:
    return await paper.transactions.run(
        lambda repo: repo.orders_of(owned_portfolio(repo, caller, portfolio_id).id)
    )


async def fills_of(paper: PaperTrading, caller: Caller, portfolio_id: str) -> list[Fill]:
    return await paper.transactions.run(
        lambda repo: repo.fills_of(owned_portfolio(repo, caller, portfolio_id).id)
    )


async def equity_of(paper: PaperTrading, caller: Caller, portfolio_id: str) -> list[EquityPoint]:
    return await paper.transactions.run(
        lambda repo: repo.equity_history(owned_portfolio(repo, caller, portfolio_id).id)
    )
