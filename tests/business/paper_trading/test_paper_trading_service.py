"""PaperTradingService through a real in-process server: portfolios and the ledger, every order type
and time in force, brackets (stop first, one cancels the other), idempotency, validation naming the
field, shorts under the margin rule, concurrent placements, restart safety, signal to trade."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import CASH, Bar, OrderType, Side
from business.paper_trading.domain.feed import apply_bar
from business.paper_trading.domain.orders import OrderRequest, build_orders
from business.paper_trading.domain.ports import PaperRepository
from service_runtime.caller import Caller
from tests.business.paper_trading.conftest import Feed
from tests.support.in_process import violated_fields
from trading.paper.v1 import paper_trading_service_pb2 as pb
from trading.paper.v1 import paper_trading_service_pb2_grpc as pb_grpc

Stub = pb_grpc.PaperTradingServiceStub
Meta = Callable[[str], tuple[tuple[str, str], ...]]
ALICE, BOB = "alice", "bob"


async def open_portfolio(stub: Stub, as_user: Meta, user: str = ALICE, cash: int = 1_000_000) -> str:
    response = await stub.CreatePortfolio(
        pb.CreatePortfolioRequest(name="Main", currency="USD", initial_cash_minor=cash),
        metadata=as_user(user),
    )
    return response.portfolio.portfolio_id


def reconciled(paper: PaperTrading, portfolio_id: str) -> tuple[int, int]:
    """(cash kept on the portfolio, cash account balance of the ledger)."""

    def work(repo: PaperRepository) -> tuple[int, int]:
        portfolio = next(
            p for p in repo.portfolios_of(ALICE) + repo.portfolios_of(BOB) if p.id == portfolio_id
        )
        return portfolio.cash_minor, repo.ledger_balance(portfolio_id, CASH)

    return paper.transactions.run_sync(work)


def place(**fields: object) -> pb.PlaceOrderRequest:
    defaults: dict[str, object] = {"symbol": "ACME", "side": pb.ORDER_SIDE_BUY, "type": pb.ORDER_TYPE_MARKET}
    return pb.PlaceOrderRequest(**{**defaults, **fields})


async def test_market_order_fills_at_the_next_open_and_the_ledger_reconciles(
    stub: Stub, as_user: Meta, paper: PaperTrading, feed: Feed
) -> None:
    pid = await open_portfolio(stub, as_user)
    placed = await stub.PlaceOrder(place(portfolio_id=pid, quantity=10), metadata=as_user(ALICE))
    assert placed.order.status == pb.ORDER_STATUS_WORKING

    feed.bar(101.0, 103.0, 100.0, 102.0)

    orders = (await stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=as_user(ALICE))).orders
    assert [(o.status, o.fill_price) for o in orders] == [(pb.ORDER_STATUS_FILLED, 101.0)]
    fills = (await stub.ListFills(pb.ListFillsRequest(portfolio_id=pid), metadata=as_user(ALICE))).fills
    assert [(f.quantity, f.price, f.commission_minor) for f in fills] == [(10, 101.0, 101)]  # 0.1% of 1010.00
    view = await stub.GetPortfolio(pb.GetPortfolioRequest(portfolio_id=pid), metadata=as_user(ALICE))
    assert view.portfolio.cash_minor == 1_000_000 - 101_000 - 101
    (position,) = view.positions
    assert (position.quantity, position.average_price, position.mark_price) == (10, 101.0, 102.0)
    assert position.unrealised_pnl_minor == 1000
    assert view.portfolio.equity_minor == 1_000_000 - 101 + 1000
    cash, ledger = reconciled(paper, pid)
    assert cash == ledger
    equity = await stub.GetEquityHistory(
        pb.GetEquityHistoryRequest(portfolio_id=pid), metadata=as_user(ALICE)
    )
    assert [p.equity_minor for p in equity.points] == [view.portfolio.equity_minor]


async def test_limit_stop_and_stop_limit_fill_on_the_bar_range(stub: Stub, as_user: Meta, feed: Feed) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    limit = await stub.PlaceOrder(
        place(portfolio_id=pid, quantity=1, type=pb.ORDER_TYPE_LIMIT, limit_price=98), metadata=meta
    )
    stop = await stub.PlaceOrder(
        place(portfolio_id=pid, quantity=1, type=pb.ORDER_TYPE_STOP, stop_price=103), metadata=meta
    )
    stop_limit = await stub.PlaceOrder(
        place(portfolio_id=pid, quantity=1, type=pb.ORDER_TYPE_STOP_LIMIT, stop_price=103, limit_price=103.5),
        metadata=meta,
    )
    feed.bar(100.0, 101.0, 99.0, 100.5)  # reaches none
    feed.bar(100.0, 104.0, 97.0, 101.0)  # reaches all three
    by_id = {
        o.order_id: o
        for o in (await stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=meta)).orders
    }
    assert by_id[limit.order.order_id].fill_price == 98.0
    assert by_id[stop.order.order_id].fill_price == 103.0
    assert by_id[stop_limit.order.order_id].fill_price == 103.0
    assert {o.status for o in by_id.values()} == {pb.ORDER_STATUS_FILLED}


async def test_bracket_stop_first_and_one_cancels_the_other(
    stub: Stub, as_user: Meta, paper: PaperTrading, feed: Feed
) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    placed = await stub.PlaceOrder(
        place(
            portfolio_id=pid, quantity=5, bracket=pb.BracketLegs(take_profit_price=110, stop_loss_price=95)
        ),
        metadata=meta,
    )
    assert [leg.status for leg in placed.legs] == [pb.ORDER_STATUS_PENDING] * 2
    feed.bar(100.0, 101.0, 99.0, 100.0)  # entry fills at 100, legs start working
    feed.bar(100.0, 111.0, 94.0, 100.0)  # both levels inside: the stop wins
    orders = {
        o.role: o
        for o in (await stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=meta)).orders
    }
    assert orders[pb.ORDER_ROLE_STOP_LOSS].status == pb.ORDER_STATUS_FILLED
    assert orders[pb.ORDER_ROLE_STOP_LOSS].fill_price == 95.0
    assert orders[pb.ORDER_ROLE_TAKE_PROFIT].status == pb.ORDER_STATUS_CANCELLED
    view = await stub.GetPortfolio(pb.GetPortfolioRequest(portfolio_id=pid), metadata=meta)
    (position,) = view.positions
    assert (position.quantity, position.realised_pnl_minor) == (0, -2500)
    assert view.metrics.trades == 2
    assert view.metrics.total_return == pytest.approx(-(2500 + 98) / 1_000_000)
    assert view.metrics.max_drawdown == pytest.approx((2500 + 98) / 1_000_000)
    assert view.metrics.win_rate == 0.0
    cash, ledger = reconciled(paper, pid)
    assert cash == ledger == 1_000_000 - 2500 - 50 - 48  # the loss and both commissions (0.1%)


async def test_idempotency_key_returns_the_same_order(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    first = await stub.PlaceOrder(place(portfolio_id=pid, quantity=3, idempotency_key="k-1"), metadata=meta)
    again = await stub.PlaceOrder(place(portfolio_id=pid, quantity=3, idempotency_key="k-1"), metadata=meta)
    assert again.order.order_id == first.order.order_id
    orders = (await stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=meta)).orders
    assert len(orders) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"symbol": "NOPE", "quantity": 1}, "symbol"),
        ({"quantity": 0}, "quantity"),
        ({"symbol": "LOTS", "quantity": 15}, "quantity"),  # lot of 10
        ({"quantity": 1, "type": pb.ORDER_TYPE_LIMIT, "limit_price": 99.995}, "limit_price"),
        ({"quantity": 1, "type": pb.ORDER_TYPE_LIMIT}, "limit_price"),
        ({"quantity": 1, "type": pb.ORDER_TYPE_STOP}, "stop_price"),
        ({"quantity": 1, "type": pb.ORDER_TYPE_UNSPECIFIED}, "type"),
        ({"quantity": 1, "side": pb.ORDER_SIDE_UNSPECIFIED}, "side"),
        ({"quantity": 1_000}, "quantity"),  # 100,000.00 of buying power, 10,000.00 there
        ({"quantity": 1, "bracket": pb.BracketLegs(take_profit_price=90)}, "bracket.take_profit_price"),
        # Huge prices: their tick arithmetic overflowed to INTERNAL before the bound.
        ({"quantity": 1, "type": pb.ORDER_TYPE_LIMIT, "limit_price": 1e307}, "limit_price"),
        ({"quantity": 1, "bracket": pb.BracketLegs(take_profit_price=1e307)}, "bracket.take_profit_price"),
    ],
)
async def test_bad_orders_name_the_field(
    stub: Stub, as_user: Meta, fields: dict[str, object], field: str
) -> None:
    pid = await open_portfolio(stub, as_user)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.PlaceOrder(place(portfolio_id=pid, **fields), metadata=as_user(ALICE))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]


async def test_shorts_under_the_margin_rule(stub: Stub, as_user: Meta, feed: Feed) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    await stub.PlaceOrder(place(portfolio_id=pid, quantity=60, side=pb.ORDER_SIDE_SELL), metadata=meta)
    feed.bar(100.0, 100.0, 100.0, 100.0)
    view = await stub.GetPortfolio(pb.GetPortfolioRequest(portfolio_id=pid), metadata=meta)
    assert view.positions[0].quantity == -60
    # equity ~10,000 less 6,000 of exposure: another 50 short (5,000) is over the limit ...
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.PlaceOrder(place(portfolio_id=pid, quantity=50, side=pb.ORDER_SIDE_SELL), metadata=meta)
    assert violated_fields(refused.value) == ["quantity"]
    # ... buying back (reducing) always passes
    await stub.PlaceOrder(place(portfolio_id=pid, quantity=60), metadata=meta)


async def test_concurrent_orders_never_spend_the_same_cash(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    # Each needs 6,000.00 of the 10,000.00: together they would overspend.
    results = await asyncio.gather(
        *(stub.PlaceOrder(place(portfolio_id=pid, quantity=60), metadata=meta) for _ in range(4)),
        return_exceptions=True,
    )
    placed = [r for r in results if isinstance(r, pb.PlaceOrderResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(placed) == 1
    assert [r.code() for r in refused] == [grpc.StatusCode.INVALID_ARGUMENT] * 3


async def test_cancel_replace_and_day_expiry(stub: Stub, as_user: Meta, feed: Feed) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    limit = place(portfolio_id=pid, quantity=2, type=pb.ORDER_TYPE_LIMIT, limit_price=90)
    working = await stub.PlaceOrder(limit, metadata=meta)
    replaced = await stub.ReplaceOrder(
        pb.ReplaceOrderRequest(order_id=working.order.order_id, quantity=4, limit_price=91), metadata=meta
    )
    assert (replaced.order.quantity, replaced.order.limit_price) == (4, 91.0)
    cancelled = await stub.CancelOrder(pb.CancelOrderRequest(order_id=working.order.order_id), metadata=meta)
    assert cancelled.order.status == pb.ORDER_STATUS_CANCELLED
    day = await stub.PlaceOrder(
        place(
            portfolio_id=pid,
            quantity=1,
            type=pb.ORDER_TYPE_LIMIT,
            limit_price=50,
            time_in_force=pb.TIME_IN_FORCE_DAY,
        ),
        metadata=meta,
    )

    async def status_of_the_day_order() -> int:
        listed = (await stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=meta)).orders
        return next(o.status for o in listed if o.order_id == day.order.order_id)

    # The feed's bars are hourly from 2030-01-01 01:00, years after the wall clock: the order's day is
    # the bar clock's (a replayed feed's day orders never expired on the wall clock's).
    for _ in range(22):  # 01:00 .. 22:00
        feed.bar(100.0, 101.0, 99.0, 100.0)
    assert await status_of_the_day_order() == pb.ORDER_STATUS_WORKING
    feed.bar(100.0, 101.0, 99.0, 100.0)  # 23:00, the day's last bar
    assert await status_of_the_day_order() == pb.ORDER_STATUS_WORKING
    feed.bar(100.0, 101.0, 99.0, 100.0)  # 2030-01-02 00:00: a new day
    assert await status_of_the_day_order() == pb.ORDER_STATUS_EXPIRED
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ReplaceOrder(
            pb.ReplaceOrderRequest(order_id=day.order.order_id, quantity=2), metadata=meta
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_bar_is_processed_once_across_restarts(
    stub: Stub, as_user: Meta, paper: PaperTrading, feed: Feed
) -> None:
    pid = await open_portfolio(stub, as_user)
    await stub.PlaceOrder(place(portfolio_id=pid, quantity=1), metadata=as_user(ALICE))
    bar_time = next(feed.times)

    bar = Bar("ACME", bar_time, 100.0, 101.0, 99.0, 100.0)
    assert apply_bar(paper, bar) is not None
    assert apply_bar(paper, bar) is None  # replayed after a restart: skipped
    older = Bar("ACME", bar_time - 1800, 100.0, 101.0, 99.0, 100.0)
    assert apply_bar(paper, older) is None
    fills = (await stub.ListFills(pb.ListFillsRequest(portfolio_id=pid), metadata=as_user(ALICE))).fills
    assert len(fills) == 1


async def test_signal_becomes_a_risk_sized_bracket_keeping_the_prediction(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    traded = await stub.TradeSignal(
        pb.TradeSignalRequest(
            portfolio_id=pid, symbol="ACME", side=pb.ORDER_SIDE_BUY, entry=100.0, take_profit=104.0,
            stop_loss=98.0, risk_percent=1.0, prediction_id="pred-42",
        ),
        metadata=as_user(ALICE),
    )  # fmt: skip
    # 1% of 10,000.00 = 100.00 at risk, 2.00 per unit to the stop: 50 units.
    assert (traded.order.quantity, traded.order.prediction_id) == (50, "pred-42")
    assert sorted((leg.role, leg.limit_price or leg.stop_price) for leg in traded.legs) == [
        (pb.ORDER_ROLE_TAKE_PROFIT, 104.0),
        (pb.ORDER_ROLE_STOP_LOSS, 98.0),
    ]


async def test_signal_results_per_model_and_version(stub: Stub, as_user: Meta, feed: Feed) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    models = [pb.SignalModel(name="intraday_xgb_tpsl", version="3"), pb.SignalModel(name="baseline_atr")]
    await stub.TradeSignal(
        pb.TradeSignalRequest(
            portfolio_id=pid, symbol="ACME", side=pb.ORDER_SIDE_BUY, entry=100.0, take_profit=104.0,
            stop_loss=98.0, risk_percent=1.0, prediction_id="pred-1", models=models,
        ),
        metadata=meta,
    )  # fmt: skip
    await stub.PlaceOrder(place(portfolio_id=pid, quantity=1), metadata=meta)  # not a signal order
    feed.bar(100.0, 101.0, 99.5, 100.0)  # 50 + 1 units fill at 100
    feed.bar(100.0, 105.0, 99.0, 104.0)  # the take-profit fills at 104
    results = (
        await stub.GetSignalResults(pb.GetSignalResultsRequest(portfolio_id=pid), metadata=meta)
    ).results
    assert [(r.model_name, r.model_version) for r in results] == [
        ("baseline_atr", ""),
        ("intraday_xgb_tpsl", "3"),
    ]
    for result in results:
        assert (result.orders_placed, result.orders_filled, result.closed_trades, result.wins) == (1, 1, 1, 1)
        # (104 - 100) x 50 = 200.00, less 0.1% commission on 5,000.00 and on 5,200.00.
        assert result.realised_pnl_minor == 20_000 - 500 - 520
        assert result.average_return == pytest.approx((20_000 - 1020) / 500_000)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.TradeSignal(
            pb.TradeSignalRequest(
                portfolio_id=pid, symbol="ACME", side=pb.ORDER_SIDE_BUY, entry=100.0, take_profit=104.0,
                stop_loss=98.0, risk_percent=1.0, prediction_id="pred-2", models=[pb.SignalModel(name="a,b")],
            ),
            metadata=meta,
        )  # fmt: skip
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "models" in violated_fields(bad.value)


async def test_another_users_portfolio_and_orders_are_not_found(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    order = (await stub.PlaceOrder(place(portfolio_id=pid, quantity=1), metadata=as_user(ALICE))).order
    bob = as_user(BOB)
    calls = [
        stub.GetPortfolio(pb.GetPortfolioRequest(portfolio_id=pid), metadata=bob),
        stub.PlaceOrder(place(portfolio_id=pid, quantity=1), metadata=bob),
        stub.CancelOrder(pb.CancelOrderRequest(order_id=order.order_id), metadata=bob),
        stub.ReplaceOrder(pb.ReplaceOrderRequest(order_id=order.order_id, quantity=2), metadata=bob),
        stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=bob),
        stub.ListFills(pb.ListFillsRequest(portfolio_id=pid), metadata=bob),
        stub.GetEquityHistory(pb.GetEquityHistoryRequest(portfolio_id=pid), metadata=bob),
        stub.TradeSignal(
            pb.TradeSignalRequest(
                portfolio_id=pid, symbol="ACME", side=pb.ORDER_SIDE_BUY, entry=100, take_profit=104,
                stop_loss=98, risk_percent=1, prediction_id="p",
            ),
            metadata=bob,
        ),
        stub.GetSignalResults(pb.GetSignalResultsRequest(portfolio_id=pid), metadata=bob),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert not (await stub.ListPortfolios(pb.ListPortfoliosRequest(), metadata=bob)).portfolios
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.ListPortfolios(pb.ListPortfoliosRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_tight_stop_is_sized_within_buying_power(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    traded = await stub.TradeSignal(
        pb.TradeSignalRequest(
            portfolio_id=pid, symbol="ACME", side=pb.ORDER_SIDE_SELL, entry=100.0, take_profit=99.0,
            stop_loss=100.1, risk_percent=2.0, prediction_id="pred-7",
        ),
        metadata=as_user(ALICE),
    )  # fmt: skip
    # 2% of 10,000.00 over 0.10 would be 2,000 units (200,000.00): capped at 98% of the buying power.
    assert traded.order.quantity == 98
    assert traded.order.side == pb.ORDER_SIDE_SELL


def signal(pid: str, **fields: object) -> pb.TradeSignalRequest:
    defaults: dict[str, object] = {
        "portfolio_id": pid, "symbol": "ACME", "side": pb.ORDER_SIDE_SELL, "entry": 100.0,
        "take_profit": 99.0, "stop_loss": 100.1, "risk_percent": 2.0, "prediction_id": "pred-7",
    }  # fmt: skip
    return pb.TradeSignalRequest(**{**defaults, **fields})


async def test_a_retried_signal_returns_its_orders_once_the_buying_power_is_spent(
    stub: Stub, as_user: Meta
) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    # LOTS: lots of 10 at 20.00; 98% of the 10,000.00 buys 490 units, and less than a lot is left.
    on_lots = signal(pid, symbol="LOTS", entry=20.0, stop_loss=20.05, take_profit=19.5, idempotency_key="s-1")
    first = await stub.TradeSignal(on_lots, metadata=meta)
    assert first.order.quantity == 490
    again = await stub.TradeSignal(on_lots, metadata=meta)  # the client timed out and retries
    assert again.order.order_id == first.order.order_id
    assert sorted(leg.order_id for leg in again.legs) == sorted(leg.order_id for leg in first.legs)
    orders = (await stub.ListOrders(pb.ListOrdersRequest(portfolio_id=pid), metadata=meta)).orders
    assert len(orders) == 3  # the entry and its two legs, once
    with pytest.raises(grpc.aio.AioRpcError) as spent:  # a new key is a new trade: no lot left for it
        await stub.TradeSignal(
            signal(pid, symbol="LOTS", entry=20.0, stop_loss=20.05, take_profit=19.5, idempotency_key="s-2"),
            metadata=meta,
        )
    assert violated_fields(spent.value) == ["risk_percent"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"entry": 1e307, "stop_loss": 2e307, "take_profit": 1.0}, "entry"),
        ({"take_profit": 1e307}, "take_profit"),
        ({"entry": 1e-307, "stop_loss": 2e-307, "take_profit": 1e-308}, "stop_loss"),
        ({"entry": 100.0, "stop_loss": 100.001}, "stop_loss"),  # under one tick (0.01) from the entry
        ({"prediction_id": "p" * 65}, "prediction_id"),
        ({"idempotency_key": "k" * 65}, "idempotency_key"),
        ({"take_profit": 101.0}, "take_profit"),  # a sell's target above its entry
        ({"entry": float("inf")}, "entry"),
    ],
)
async def test_bad_signals_name_a_field_of_the_request(
    stub: Stub, as_user: Meta, fields: dict[str, object], field: str
) -> None:
    pid = await open_portfolio(stub, as_user)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.TradeSignal(signal(pid, **fields), metadata=as_user(ALICE))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]


async def test_a_replace_keeps_the_bracket_on_the_right_sides(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    bracketed = await stub.PlaceOrder(
        place(
            portfolio_id=pid, quantity=1, type=pb.ORDER_TYPE_LIMIT, limit_price=100,
            bracket=pb.BracketLegs(take_profit_price=105, stop_loss_price=95),
        ),
        metadata=meta,
    )  # fmt: skip
    entry_id = bracketed.order.order_id
    with pytest.raises(grpc.aio.AioRpcError) as past_target:  # the entry above its own take-profit
        await stub.ReplaceOrder(pb.ReplaceOrderRequest(order_id=entry_id, limit_price=110), metadata=meta)
    assert violated_fields(past_target.value) == ["limit_price"]
    take_profit = next(leg for leg in bracketed.legs if leg.role == pb.ORDER_ROLE_TAKE_PROFIT)
    with pytest.raises(grpc.aio.AioRpcError) as below_entry:  # a buy's target under its entry
        await stub.ReplaceOrder(
            pb.ReplaceOrderRequest(order_id=take_profit.order_id, limit_price=99), metadata=meta
        )
    assert violated_fields(below_entry.value) == ["limit_price"]
    moved = await stub.ReplaceOrder(pb.ReplaceOrderRequest(order_id=entry_id, limit_price=101), metadata=meta)
    assert moved.order.limit_price == 101.0  # still between the legs: accepted
    raised = await stub.ReplaceOrder(
        pb.ReplaceOrderRequest(order_id=take_profit.order_id, limit_price=108), metadata=meta
    )
    assert raised.order.limit_price == 108.0


async def test_metrics_and_signal_results_count_past_the_listed_500(
    stub: Stub, as_user: Meta, paper: PaperTrading, feed: Feed
) -> None:
    pid = await open_portfolio(stub, as_user, cash=100_000_000)  # 1,000,000.00
    caller = Caller(subject=ALICE, roles=frozenset({"user"}), plan="free")
    signal_entry = OrderRequest(
        portfolio_id=pid, symbol="ACME", side=Side.BUY, type=OrderType.MARKET, quantity=1,
        prediction_id="pred-9", signal_models="intraday_xgb_tpsl@3",
    )  # fmt: skip

    def place_520(repo: PaperRepository) -> None:  # one transaction: 520 placements through the API take long
        for _ in range(520):
            repo.add_orders(build_orders(paper, caller, signal_entry, None))

    paper.transactions.run_sync(place_520)
    feed.bar(100.0, 101.0, 99.5, 100.0)  # all 520 fill
    meta = as_user(ALICE)
    metrics = (await stub.GetPortfolio(pb.GetPortfolioRequest(portfolio_id=pid), metadata=meta)).metrics
    assert metrics.trades == 520
    results = (
        await stub.GetSignalResults(pb.GetSignalResultsRequest(portfolio_id=pid), metadata=meta)
    ).results
    assert [(r.model_name, r.orders_placed, r.orders_filled) for r in results] == [
        ("intraday_xgb_tpsl", 520, 520)
    ]
    listed = (await stub.ListFills(pb.ListFillsRequest(portfolio_id=pid), metadata=meta)).fills
    assert len(listed) == 500  # the list stays bounded (the newest 500)


async def test_a_price_the_order_type_does_not_use_is_refused(stub: Stub, as_user: Meta) -> None:
    """A stray limit price on a market order stood in for the market price: 1,000,000 ACME (100M at
    the last close of 100) passed the 10,000 margin rule valued at 0.01 a unit."""
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    with pytest.raises(grpc.aio.AioRpcError) as market:
        await stub.PlaceOrder(place(portfolio_id=pid, quantity=1_000_000, limit_price=0.01), metadata=meta)
    assert violated_fields(market.value) == ["limit_price"]
    with pytest.raises(grpc.aio.AioRpcError) as limit:
        await stub.PlaceOrder(
            place(portfolio_id=pid, quantity=1, type=pb.ORDER_TYPE_LIMIT, limit_price=99, stop_price=98),
            metadata=meta,
        )
    assert violated_fields(limit.value) == ["stop_price"]
    working = await stub.PlaceOrder(place(portfolio_id=pid, quantity=90), metadata=meta)
    with pytest.raises(grpc.aio.AioRpcError) as replaced:
        await stub.ReplaceOrder(
            pb.ReplaceOrderRequest(order_id=working.order.order_id, quantity=1_000_000, limit_price=0.01),
            metadata=meta,
        )
    assert violated_fields(replaced.value) == ["limit_price"]


async def test_an_unknown_time_in_force_is_refused(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.PlaceOrder(place(portfolio_id=pid, quantity=1, time_in_force=77), metadata=as_user(ALICE))  # type: ignore[arg-type]
    assert violated_fields(refused.value) == ["time_in_force"]


async def test_a_key_reused_for_another_order_or_signal_is_refused(stub: Stub, as_user: Meta) -> None:
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    first = await stub.PlaceOrder(place(portfolio_id=pid, quantity=1, idempotency_key="k1"), metadata=meta)
    again = await stub.PlaceOrder(place(portfolio_id=pid, quantity=1, idempotency_key="k1"), metadata=meta)
    assert again.order.order_id == first.order.order_id  # a retry
    with pytest.raises(grpc.aio.AioRpcError) as other_order:
        await stub.PlaceOrder(
            place(portfolio_id=pid, quantity=7, side=pb.ORDER_SIDE_SELL, idempotency_key="k1"), metadata=meta
        )
    assert other_order.value.code() == grpc.StatusCode.ALREADY_EXISTS
    signal = pb.TradeSignalRequest(
        portfolio_id=pid,
        symbol="ACME",
        side=pb.ORDER_SIDE_BUY,
        entry=100.0,
        take_profit=104.0,
        stop_loss=98.0,
        risk_percent=1.0,
        prediction_id="pred-1",
        idempotency_key="sig",
    )
    placed = await stub.TradeSignal(signal, metadata=meta)
    assert (await stub.TradeSignal(signal, metadata=meta)).order.order_id == placed.order.order_id
    signal.prediction_id, signal.side = "pred-2", pb.ORDER_SIDE_SELL
    signal.take_profit, signal.stop_loss = 96.0, 102.0
    with pytest.raises(grpc.aio.AioRpcError) as other_signal:
        await stub.TradeSignal(signal, metadata=meta)
    assert other_signal.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_a_bracket_legs_quantity_follows_its_entry(stub: Stub, as_user: Meta, feed: Feed) -> None:
    """A take-profit resized to 1 made the stop-loss, when hit, close 1 unit of 10 and cancel the
    rest of the bracket: 9 units left unprotected."""
    pid = await open_portfolio(stub, as_user)
    meta = as_user(ALICE)
    placed = await stub.PlaceOrder(
        place(
            portfolio_id=pid, quantity=10, bracket=pb.BracketLegs(take_profit_price=110, stop_loss_price=90)
        ),
        metadata=meta,
    )
    feed.bar(100.0, 101.0, 99.0, 100.0)  # the entry fills 10 at 100; the legs work
    take_profit = next(leg for leg in placed.legs if leg.role == pb.ORDER_ROLE_TAKE_PROFIT)
    with pytest.raises(grpc.aio.AioRpcError) as resized:
        await stub.ReplaceOrder(
            pb.ReplaceOrderRequest(order_id=take_profit.order_id, quantity=1), metadata=meta
        )
    assert violated_fields(resized.value) == ["quantity"]
    await stub.ReplaceOrder(
        pb.ReplaceOrderRequest(order_id=take_profit.order_id, limit_price=112), metadata=meta
    )
    feed.bar(95.0, 96.0, 85.0, 88.0)  # the stop is hit
    view = await stub.GetPortfolio(pb.GetPortfolioRequest(portfolio_id=pid), metadata=meta)
    assert [p.quantity for p in view.positions if p.quantity] == []
