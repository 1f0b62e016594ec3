"""The identity proof again, through the real store (SQLite, and PostgreSQL when configured): the
strategy's orders stored as placed, each bar processed by the feed's use case `apply_bar` (its own
transaction, row locks, the cursor), trades and equity read back from the tables, and compared with
the backtester's."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np

from bench.backtest import random_walk
from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import (
    CAPITAL,
    CASH,
    Bar,
    LedgerEntry,
    LedgerLine,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Portfolio,
    Side,
    TimeInForce,
)
from business.paper_trading.domain.feed import apply_bar
from business.paper_trading.domain.portfolios import view_of
from business.paper_trading.domain.ports import PaperRepository
from ml_engine.backtests.domain import BacktestConfig
from ml_engine.backtests.domain.engine import simulate_positions
from ml_engine.backtests.domain.kernel import EXIT_END
from ml_engine.backtests.domain.strategies import get_strategy
from tests.business.paper_trading.conftest import HOUR, START
from tests.business.paper_trading.domain.test_backtest_identity import paper_trades

CONFIG = BacktestConfig(initial_cash=10_000.0, commission=0.001, stop_loss=0.004, take_profit=0.006)


def test_replay_through_the_store_matches_the_backtest(paper: PaperTrading) -> None:
    assert paper.costs.commission == CONFIG.commission and paper.costs.slippage == CONFIG.slippage
    walk = random_walk(400, seed=5)
    desired = get_strategy("sma_cross").positions(walk, {"fast": 5.0, "slow": 12.0})
    backtest = simulate_positions(walk, desired, CONFIG)
    now = datetime.now(UTC)
    portfolio = Portfolio("replay-portfolio", "replayer", "replay", "USD", 1_000_000, 1_000_000, now)

    def open_portfolio(repo: PaperRepository) -> None:  # as create_portfolio does: the deposit in the ledger
        repo.add_portfolio(portfolio)
        deposit = (LedgerLine(CASH, 1_000_000), LedgerLine(CAPITAL, -1_000_000))
        repo.add_ledger_entry(LedgerEntry(portfolio.id, "opening deposit", deposit))

    paper.transactions.run_sync(open_portfolio)
    sequence = itertools.count(1)
    ids = (f"replay-order-{n}" for n in itertools.count())

    def order(side: Side, after: int, **fields: object) -> Order:
        placed = Order(
            id=next(ids), portfolio_id=portfolio.id, user_id="replayer", symbol="ACME", side=side,
            type=OrderType.MARKET, quantity=0, time_in_force=TimeInForce.GTC, status=OrderStatus.WORKING,
            created_at=now, sequence=next(sequence), placed_after=after,
        )  # fmt: skip
        for key, value in fields.items():
            setattr(placed, key, value)
        return placed

    def state(repo: PaperRepository) -> tuple[int, int]:
        held = next((p.quantity for p in repo.positions_of(portfolio.id) if p.symbol == "ACME"), 0)
        stored = repo.portfolio("replayer", portfolio.id)
        assert stored is not None
        return held, view_of(repo, stored).equity_minor

    equity, previous = [], 0
    for i in range(len(walk)):
        bar_time = START + HOUR * (i + 1)
        bar = Bar("ACME", bar_time, *(float(c[i]) for c in (walk.open, walk.high, walk.low, walk.close)))
        assert apply_bar(paper, bar) is not None
        held, equity_minor = paper.transactions.run_sync(state)
        equity.append(equity_minor / 100)
        if int(desired[i]) != previous:
            previous = int(desired[i])
            placed = []
            if held:
                placed.append(order(Side.SELL if held > 0 else Side.BUY, bar_time, quantity=abs(held)))
            if previous:
                side = Side.BUY if previous > 0 else Side.SELL
                entry = order(
                    side, bar_time, size_fraction=CONFIG.order_size_fraction,
                    stop_loss_fraction=CONFIG.stop_loss, take_profit_fraction=CONFIG.take_profit,
                )  # fmt: skip
                placed += [
                    entry,
                    order(side.opposite, bar_time, type=OrderType.STOP, role=OrderRole.STOP_LOSS,
                          parent_id=entry.id, status=OrderStatus.PENDING),
                    order(side.opposite, bar_time, type=OrderType.LIMIT, role=OrderRole.TAKE_PROFIT,
                          parent_id=entry.id, status=OrderStatus.PENDING),
                ]  # fmt: skip
            paper.transactions.run_sync(lambda repo, orders=placed: repo.add_orders(orders))

    def stored_fills(repo: PaperRepository) -> list[tuple[int, int, float, str]]:
        roles = {o.id: (o.role.value, o.sequence) for o in repo.orders_of(portfolio.id)}
        fills = sorted(repo.fills_of(portfolio.id), key=lambda f: (f.bar_time, roles[f.order_id][1]))
        return [
            ((f.bar_time - START) // HOUR - 1, f.quantity * int(f.side.sign), f.price, roles[f.order_id][0])
            for f in fills
        ]

    fills = paper.transactions.run_sync(stored_fills)
    expected = [
        (int(e), int(x), float(ep), float(xp), int(u), int(r))
        for e, x, ep, xp, u, r in zip(
            backtest.entry_bar, backtest.exit_bar, backtest.entry_price, backtest.exit_price, backtest.units,
            backtest.exit_reason, strict=True,
        )
        if r != EXIT_END
    ]  # fmt: skip
    assert len(expected) > 10
    assert paper_trades(fills)[: len(expected)] == expected
    fills_before = np.searchsorted([f[0] for f in fills], np.arange(len(walk)), side="right")
    difference = np.abs(np.asarray(equity) - backtest.equity)[:-1]
    assert (difference <= 0.01 * fills_before[:-1] + 0.005 + 1e-6).all()

    def reconciled(repo: PaperRepository) -> tuple[int, int]:
        stored = repo.portfolio("replayer", portfolio.id)
        assert stored is not None
        return stored.cash_minor, repo.ledger_balance(portfolio.id, CASH)

    cash, ledger = paper.transactions.run_sync(reconciled)
    assert cash == ledger  # every posting of 100+ fills went through the ledger
