"""PaperTradingService: translates protos <-> paper trading's domain, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from business.paper_trading.domain import orders as order_cases
from business.paper_trading.domain import portfolios, signal_results
from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import (
    EquityPoint,
    Fill,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from business.paper_trading.domain.orders import OrderRequest, SignalTrade
from business.paper_trading.domain.portfolios import PortfolioView, unrealised_pnl_minor
from business.shared.proto_mapping import Context
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_optional_timestamp, to_timestamp
from trading.paper.v1 import paper_trading_service_pb2 as pb
from trading.paper.v1 import paper_trading_service_pb2_grpc as pb_grpc

SIDES = {Side.BUY: pb.ORDER_SIDE_BUY, Side.SELL: pb.ORDER_SIDE_SELL}
TYPES = {
    OrderType.MARKET: pb.ORDER_TYPE_MARKET,
    OrderType.LIMIT: pb.ORDER_TYPE_LIMIT,
    OrderType.STOP: pb.ORDER_TYPE_STOP,
    OrderType.STOP_LIMIT: pb.ORDER_TYPE_STOP_LIMIT,
}
TIFS = {TimeInForce.DAY: pb.TIME_IN_FORCE_DAY, TimeInForce.GTC: pb.TIME_IN_FORCE_GTC}
STATUSES = {
    OrderStatus.WORKING: pb.ORDER_STATUS_WORKING,
    OrderStatus.PENDING: pb.ORDER_STATUS_PENDING,
    OrderStatus.FILLED: pb.ORDER_STATUS_FILLED,
    OrderStatus.CANCELLED: pb.ORDER_STATUS_CANCELLED,
    OrderStatus.REJECTED: pb.ORDER_STATUS_REJECTED,
    OrderStatus.EXPIRED: pb.ORDER_STATUS_EXPIRED,
}
ROLES = {
    OrderRole.ENTRY: pb.ORDER_ROLE_ENTRY,
    OrderRole.TAKE_PROFIT: pb.ORDER_ROLE_TAKE_PROFIT,
    OrderRole.STOP_LOSS: pb.ORDER_ROLE_STOP_LOSS,
}
SIDE_FROM_PB = {v: k for k, v in SIDES.items()}
TYPE_FROM_PB = {v: k for k, v in TYPES.items()}
TIF_FROM_PB = {v: k for k, v in TIFS.items()}


def _at(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _price(value: float) -> float | None:
    return value if value else None


def portfolio_message(view: PortfolioView) -> pb.Portfolio:
    p = view.portfolio
    return pb.Portfolio(
        portfolio_id=p.id,
        name=p.name,
        currency=p.currency,
        cash_minor=p.cash_minor,
        equity_minor=view.equity_minor,
        buying_power_minor=view.buying_power_minor,
        initial_cash_minor=p.initial_cash_minor,
        created_at=to_timestamp(p.created_at),
    )


def order_message(order: Order) -> pb.Order:
    return pb.Order(
        order_id=order.id,
        portfolio_id=order.portfolio_id,
        symbol=order.symbol,
        side=SIDES[order.side],
        type=TYPES[order.type],
        quantity=order.quantity,
        limit_price=order.limit_price or 0.0,
        stop_price=order.stop_price or 0.0,
        time_in_force=TIFS[order.time_in_force],
        status=STATUSES[order.status],
        role=ROLES[order.role],
        parent_order_id=order.parent_id or "",
        idempotency_key=order.idempotency_key or "",
        prediction_id=order.prediction_id or "",
        fill_price=order.fill_price or 0.0,
        created_at=to_timestamp(order.created_at),
        reason=order.reason,
        filled_at=to_optional_timestamp(_at(order.filled_at)),
    )


def fill_message(fill: Fill) -> pb.Fill:
    return pb.Fill(
        fill_id=fill.id,
        order_id=fill.order_id,
        symbol=fill.symbol,
        side=SIDES[fill.side],
        quantity=fill.quantity,
        price=fill.price,
        commission_minor=fill.commission_minor,
        bar_time=to_timestamp(datetime.fromtimestamp(fill.bar_time, UTC)),
    )


def equity_message(point: EquityPoint) -> pb.EquityPoint:
    return pb.EquityPoint(
        time=to_timestamp(datetime.fromtimestamp(point.time, UTC)), equity_minor=point.equity_minor
    )


def _side(value: int, field: str = "side") -> Side:
    side = SIDE_FROM_PB.get(value)  # type: ignore[call-overload]
    if side is None:
        raise InvalidArgument.field(field, "must be ORDER_SIDE_BUY or ORDER_SIDE_SELL")
    return side


def order_request(request: pb.PlaceOrderRequest) -> OrderRequest:
    kind = TYPE_FROM_PB.get(request.type)
    if kind is None:
        raise InvalidArgument.field("type", "must be MARKET, LIMIT, STOP or STOP_LIMIT")
    tif = TIF_FROM_PB.get(request.time_in_force) if request.time_in_force else TimeInForce.GTC
    if tif is None:
        raise InvalidArgument.field("time_in_force", "must be TIME_IN_FORCE_GTC or TIME_IN_FORCE_DAY")
    return OrderRequest(
        portfolio_id=request.portfolio_id,
        symbol=request.symbol.strip().upper(),
        side=_side(request.side),
        type=kind,
        quantity=request.quantity,
        time_in_force=tif,
        limit_price=_price(request.limit_price),
        stop_price=_price(request.stop_price),
        take_profit_price=_price(request.bracket.take_profit_price),
        stop_loss_price=_price(request.bracket.stop_loss_price),
        idempotency_key=request.idempotency_key or None,
    )


class PaperTradingHandlers(pb_grpc.PaperTradingServiceServicer):
    def __init__(self, paper: PaperTrading) -> None:
        self.paper = paper

    async def CreatePortfolio(
        self, request: pb.CreatePortfolioRequest, context: Context
    ) -> pb.CreatePortfolioResponse:
        view = await portfolios.create_portfolio(
            self.paper, current_caller(), request.name, request.currency or "USD", request.initial_cash_minor
        )
        return pb.CreatePortfolioResponse(portfolio=portfolio_message(view))

    async def ListPortfolios(
        self, request: pb.ListPortfoliosRequest, context: Context
    ) -> pb.ListPortfoliosResponse:
        views = await portfolios.list_portfolios(self.paper, current_caller())
        return pb.ListPortfoliosResponse(portfolios=[portfolio_message(v) for v in views])

    async def GetPortfolio(
        self, request: pb.GetPortfolioRequest, context: Context
    ) -> pb.GetPortfolioResponse:
        view = await portfolios.get_portfolio(self.paper, current_caller(), request.portfolio_id)
        scale = view.portfolio.scale
        positions = [
            pb.Position(
                symbol=p.symbol,
                quantity=p.quantity,
                average_price=p.average_price,
                mark_price=mark,
                realised_pnl_minor=p.realised_pnl_minor,
                unrealised_pnl_minor=unrealised_pnl_minor(p, mark, scale),
            )
            for p, mark in view.positions
        ]
        metrics = view.metrics
        assert metrics is not None
        return pb.GetPortfolioResponse(
            portfolio=portfolio_message(view),
            positions=positions,
            metrics=pb.PortfolioMetrics(
                total_return=metrics.total_return,
                max_drawdown=metrics.max_drawdown,
                sharpe=metrics.sharpe,
                win_rate=metrics.win_rate,
                trades=metrics.trades,
            ),
        )

    async def PlaceOrder(self, request: pb.PlaceOrderRequest, context: Context) -> pb.PlaceOrderResponse:
        entry, *legs = await order_cases.place_order(self.paper, current_caller(), order_request(request))
        return pb.PlaceOrderResponse(order=order_message(entry), legs=[order_message(leg) for leg in legs])

    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Context) -> pb.CancelOrderResponse:
        order = await order_cases.cancel_order(self.paper, current_caller(), request.order_id)
        return pb.CancelOrderResponse(order=order_message(order))

    async def ReplaceOrder(
        self, request: pb.ReplaceOrderRequest, context: Context
    ) -> pb.ReplaceOrderResponse:
        if request.quantity < 0:
            raise InvalidArgument.field("quantity", "must be positive (0 keeps the current quantity)")
        order = await order_cases.replace_order(
            self.paper,
            current_caller(),
            request.order_id,
            request.quantity or None,
            _price(request.limit_price),
            _price(request.stop_price),
        )
        return pb.ReplaceOrderResponse(order=order_message(order))

    async def ListOrders(self, request: pb.ListOrdersRequest, context: Context) -> pb.ListOrdersResponse:
        orders = await portfolios.orders_of(self.paper, current_caller(), request.portfolio_id)
        return pb.ListOrdersResponse(orders=[order_message(o) for o in orders])

    async def ListFills(self, request: pb.ListFillsRequest, context: Context) -> pb.ListFillsResponse:
        fills = await portfolios.fills_of(self.paper, current_caller(), request.portfolio_id)
        return pb.ListFillsResponse(fills=[fill_message(f) for f in fills])

    async def GetEquityHistory(
        self, request: pb.GetEquityHistoryRequest, context: Context
    ) -> pb.GetEquityHistoryResponse:
        points = await portfolios.equity_of(self.paper, current_caller(), request.portfolio_id)
        return pb.GetEquityHistoryResponse(points=[equity_message(p) for p in points])

    async def TradeSignal(self, request: pb.TradeSignalRequest, context: Context) -> pb.TradeSignalResponse:
        signal = SignalTrade(
            portfolio_id=request.portfolio_id,
            symbol=request.symbol.strip().upper(),
            side=_side(request.side),
            entry=request.entry,
            take_profit=request.take_profit,
            stop_loss=request.stop_loss,
            risk_percent=request.risk_percent,
            prediction_id=request.prediction_id,
            idempotency_key=request.idempotency_key or None,
            models=tuple((model.name.strip(), model.version.strip()) for model in request.models),
        )
        entry, *legs = await order_cases.trade_signal(self.paper, current_caller(), signal)
        return pb.TradeSignalResponse(order=order_message(entry), legs=[order_message(leg) for leg in legs])

    async def GetSignalResults(
        self, request: pb.GetSignalResultsRequest, context: Context
    ) -> pb.GetSignalResultsResponse:
        results = await signal_results.signal_results_of(self.paper, current_caller(), request.portfolio_id)
        return pb.GetSignalResultsResponse(
            results=[
                pb.ModelSignalResult(
                    model_name=r.model_name,
                    model_version=r.model_version,
                    orders_placed=r.orders_placed,
                    orders_filled=r.orders_filled,
                    closed_trades=r.closed_trades,
                    wins=r.wins,
                    realised_pnl_minor=r.realised_pnl_minor,
                    average_return=r.average_return,
                )
                for r in results
            ]
        )
