"""The identity proof: a strategy's orders replayed bar by bar through paper trading's matcher give
the backtester's trades (bars, units, prices, exit reasons) and its equity at every close.

Both sides fill with service_runtime.fill_model: the backtester compiled by numba, paper trading as
plain Python. Paper cash is kept in integer minor units, so its equity may differ from the
backtester's float equity by the rounding of each posting (at most one cent per fill).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from bench.backtest import random_walk
from business.paper_trading.domain.entities import (
    Bar,
    Costs,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Portfolio,
    PortfolioBook,
    Side,
    TimeInForce,
)
from business.paper_trading.domain.matching import process_bar
from ml_engine.backtests.domain import BacktestConfig
from ml_engine.backtests.domain.engine import simulate_positions
from ml_engine.backtests.domain.kernel import EXIT_END, EXIT_SIGNAL, EXIT_STOP_LOSS, EXIT_TAKE_PROFIT
from ml_engine.backtests.domain.strategies import get_strategy

_REASONS = {"signal": EXIT_SIGNAL, "stop_loss": EXIT_STOP_LOSS, "take_profit": EXIT_TAKE_PROFIT}


class PaperReplay:
    """Drives the matcher like a live portfolio would be: after each bar's close the strategy's
    change of mind becomes orders (close the position at market; enter at market, sized by the
    fraction of equity, with a bracket at fractions of the fill), which the next bar fills."""

    def __init__(self, config: BacktestConfig) -> None:
        self.config = config
        self.costs = Costs(config.commission, config.slippage)
        portfolio = Portfolio(
            "p1", "u1", "replay", "USD", round(config.initial_cash * 100), 0, datetime.now(UTC)
        )
        self.book = PortfolioBook(portfolio)
        self.orders: list[Order] = []
        self.fills: list[tuple[int, int, float, str]] = []  # (bar index, signed units, price, role/reason)
        self.ids = (str(n) for n in itertools.count())
        self.sequence = itertools.count()

    def order(self, side: Side, quantity: int, after: int, **kw: object) -> Order:
        order = Order(
            id=next(self.ids), portfolio_id="p1", user_id="u1", symbol="X", side=side, type=OrderType.MARKET,
            quantity=quantity, time_in_force=TimeInForce.GTC, status=OrderStatus.WORKING,
            created_at=datetime.now(UTC), sequence=next(self.sequence), placed_after=after,
        )  # fmt: skip
        for key, value in kw.items():
            setattr(order, key, value)
        self.orders.append(order)
        return order

    def decide(self, wanted: int, bar_time: int) -> None:
        held = self.book.position("X").quantity
        if held:
            self.order(Side.SELL if held > 0 else Side.BUY, abs(held), bar_time)
        if wanted:
            side = Side.BUY if wanted > 0 else Side.SELL
            entry = self.order(
                side, 0, bar_time,
                size_fraction=self.config.order_size_fraction,
                stop_loss_fraction=self.config.stop_loss,
                take_profit_fraction=self.config.take_profit,
            )  # fmt: skip
            for role, kind in (
                (OrderRole.STOP_LOSS, OrderType.STOP),
                (OrderRole.TAKE_PROFIT, OrderType.LIMIT),
            ):
                self.order(
                    side.opposite, 0, bar_time, role=role, type=kind, parent_id=entry.id,
                    status=OrderStatus.PENDING,
                )  # fmt: skip

    def run(self, bars: list[Bar], desired: np.ndarray) -> list[float]:
        equity = []
        previous = 0
        for i, bar in enumerate(bars):
            live = [o for o in self.orders if o.live]
            outcome = process_bar(bar, live, {"p1": self.book}, self.costs, lambda: next(self.ids))
            by_id = {o.id: o for o in self.orders}
            for fill in outcome.fills:
                order = by_id[fill.order_id]
                self.fills.append((i, fill.quantity * int(fill.side.sign), fill.price, order.role.value))
            equity.append(self.book.equity())
            if int(desired[i]) != previous:
                previous = int(desired[i])
                self.decide(previous, bar.time)
        return equity


def paper_trades(fills: list[tuple[int, int, float, str]]) -> list[tuple[int, int, float, float, int, int]]:
    """Pairs each opening fill with the fill that closes it:
    (entry bar, exit bar, entry price, exit price, units, reason)."""
    trades = []
    opened: tuple[int, int, float, str] | None = None
    for fill in fills:
        if opened is None:
            opened = fill
            continue
        bar, _units, price, role = fill
        reason = {"entry": EXIT_SIGNAL, "stop_loss": EXIT_STOP_LOSS, "take_profit": EXIT_TAKE_PROFIT}[role]
        trades.append((opened[0], bar, opened[2], price, opened[1], reason))
        opened = None
    return trades


@pytest.mark.parametrize(
    "config",
    [
        BacktestConfig(initial_cash=10_000.0),
        BacktestConfig(
            initial_cash=10_000.0, commission=0.001, slippage=0.0005, stop_loss=0.004, take_profit=0.006
        ),
        BacktestConfig(initial_cash=25_000.0, commission=0.0002, position_size=0.5, stop_loss=0.002),
    ],
    ids=["no-costs", "costs-and-bracket", "half-size-stop-only"],
)
def test_paper_trading_replays_the_backtest_trade_for_trade(config: BacktestConfig) -> None:
    walk = random_walk(1500, seed=11)
    desired = get_strategy("sma_cross").positions(walk, {"fast": 10.0, "slow": 20.0})
    backtest = simulate_positions(walk, desired, config)
    bars = [
        Bar("X", int(t), float(o), float(h), float(lo), float(c))
        for t, o, h, lo, c in zip(walk.times, walk.open, walk.high, walk.low, walk.close, strict=True)
    ]

    replay = PaperReplay(config)
    paper_equity = replay.run(bars, desired)

    expected = [
        (int(e), int(x), float(ep), float(xp), int(u), int(r))
        for e, x, ep, xp, u, r in zip(
            backtest.entry_bar, backtest.exit_bar, backtest.entry_price, backtest.exit_price, backtest.units,
            backtest.exit_reason, strict=True,
        )
        if r != EXIT_END  # the backtester closes the last trade at the end; a live portfolio keeps it
    ]  # fmt: skip
    assert len(expected) > 20
    assert {r for *_, r in expected} >= ({EXIT_SIGNAL, EXIT_STOP_LOSS} if config.stop_loss else {EXIT_SIGNAL})
    assert paper_trades(replay.fills)[: len(expected)] == expected

    # Equity at every close; the last bar differs only by the backtester's END exit commission.
    fills_before = np.searchsorted([f[0] for f in replay.fills], np.arange(len(bars)), side="right")
    tolerance = 0.01 * fills_before + 1e-6
    difference = np.abs(np.asarray(paper_equity) - backtest.equity)[:-1]
    assert (difference <= tolerance[:-1]).all(), f"worst bar {int(np.argmax(difference - tolerance[:-1]))}"
