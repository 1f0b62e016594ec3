"""Signal results: what the orders placed from signals (TradeSignal) did, per model and version.

A signal order keeps the models that made the signal ("name@version" joined by ","). Its entry and
the fill of its take-profit or stop-loss leg make one trade: realised P&L is the exit less the entry,
times the exit quantity, in the trade's direction, less the commissions of both fills; its return is
that P&L over the entry's value. A signal made by several models counts for each of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Fill, Order, OrderRole, to_minor
from business.paper_trading.domain.portfolios import owned_portfolio
from business.paper_trading.domain.ports import PaperRepository
from service_runtime.caller import Caller
from service_runtime.errors import InvalidArgument

MAX_MODELS = 16
MAX_MODEL_NAME = 64
MAX_MODEL_VERSION = 16


def encode_models(models: Iterable[tuple[str, str]]) -> str:
    """The stored form of a signal's models: "name@version" joined by "," (checked, deduplicated)."""
    seen: list[str] = []
    for name, version in models:
        if not name or len(name) > MAX_MODEL_NAME or any(c in name for c in "@,"):
            raise InvalidArgument.field(
                "models", f"model name must be 1 to {MAX_MODEL_NAME} characters without @ or ,"
            )
        if len(version) > MAX_MODEL_VERSION or any(c in version for c in "@,"):
            raise InvalidArgument.field(
                "models", f"model version must be at most {MAX_MODEL_VERSION} characters without @ or ,"
            )
        key = f"{name}@{version}"
        if key not in seen:
            seen.append(key)
    if len(seen) > MAX_MODELS:
        raise InvalidArgument.field("models", f"at most {MAX_MODELS} models")
    return ",".join(seen)


def decode_models(stored: str | None) -> list[tuple[str, str]]:
    """(name, version) pairs of a stored model list; [("", "")] when none were recorded."""
    if not stored:
        return [("", "")]
    return [(name, version) for name, _, version in (item.partition("@") for item in stored.split(","))]


@dataclass
class ModelResult:
    model_name: str
    model_version: str
    orders_placed: int = 0
    orders_filled: int = 0
    closed_trades: int = 0
    wins: int = 0
    realised_pnl_minor: int = 0
    return_sum: float = 0.0

    @property
    def average_return(self) -> float:
        return self.return_sum / self.closed_trades if self.closed_trades else 0.0


@dataclass(frozen=True)
class ClosedTrade:
    pnl_minor: int
    return_: float


def closed_trade(entry: Order, exit_: Order, fills: dict[str, Fill], scale: int) -> ClosedTrade | None:
    """The trade an entry and its filled exit leg made, None when either fill is missing."""
    opened, closed = fills.get(entry.id), fills.get(exit_.id)
    if opened is None or closed is None or opened.price <= 0:
        return None
    gross = (closed.price - opened.price) * closed.quantity * entry.side.sign
    pnl = to_minor(gross, scale) - opened.commission_minor - closed.commission_minor
    value = to_minor(opened.price * closed.quantity, scale)
    return ClosedTrade(pnl, pnl / value if value else 0.0)


def signal_results(orders: Sequence[Order], fills: Sequence[Fill], scale: int) -> list[ModelResult]:
    """Per (model, version), sorted: signal entries placed and filled, trades closed, wins, P&L."""
    by_order = {fill.order_id: fill for fill in fills}
    exits: dict[str, Order] = {}
    for order in orders:
        if order.role is not OrderRole.ENTRY and order.parent_id and order.id in by_order:
            exits[order.parent_id] = order
    results: dict[tuple[str, str], ModelResult] = {}
    for entry in orders:
        if entry.role is not OrderRole.ENTRY or not entry.prediction_id:
            continue
        exit_ = exits.get(entry.id)
        trade = closed_trade(entry, exit_, by_order, scale) if exit_ is not None else None
        for name, version in decode_models(entry.signal_models):
            result = results.setdefault((name, version), ModelResult(name, version))
            result.orders_placed += 1
            if entry.id in by_order:
                result.orders_filled += 1
            if trade is not None:
                result.closed_trades += 1
                result.wins += trade.pnl_minor > 0
                result.realised_pnl_minor += trade.pnl_minor
                result.return_sum += trade.return_
    return [results[key] for key in sorted(results)]


async def signal_results_of(paper: PaperTrading, caller: Caller, portfolio_id: str) -> list[ModelResult]:
    """The caller's portfolio's signal results (another user's portfolio is NOT_FOUND)."""

    def read(repo: PaperRepository) -> list[ModelResult]:
        portfolio = owned_portfolio(repo, caller, portfolio_id)
        orders, fills = repo.signal_orders_of(portfolio.id), repo.signal_fills_of(portfolio.id)
        return signal_results(orders, fills, portfolio.scale)

    return await paper.transactions.run(read)
