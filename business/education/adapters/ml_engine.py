"""Education's MarketData port on the ML engine's gRPC API, called with business's one-minute
service token (business/shared/ml_engine_channel.py; the RPCs list role "service" in their
access rules). The ML engine unreachable (or refusing business's token) is DependencyUnavailable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import grpc

from business.education.domain.entities import DOWN, UP
from business.education.domain.ports import Bar, ModelAnswer, UnknownTimeframe
from service_runtime.errors import DependencyUnavailable
from service_runtime.service_token import ServiceChannel
from service_runtime.timestamps import to_timestamp
from trading.market.v1 import (
    backtest_service_pb2,
    backtest_service_pb2_grpc,
    indicator_service_pb2,
    indicator_service_pb2_grpc,
    market_data_service_pb2,
    market_data_service_pb2_grpc,
)
from trading.ml.v1 import prediction_service_pb2, prediction_service_pb2_grpc

# Codes that mean "the ML engine cannot answer now" rather than "the question is wrong".
_DOWN = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_TIMEFRAME = re.compile(r"^(\d+)([mhdw])$")
MAX_BARS = 5000
# Each call's deadline: a hung engine answers UNAVAILABLE well before Envoy's 10 s route timeout
# gives up on the learner's request (and two calls fit in it: a forecast asks for bars, then Predict).
CALL_DEADLINE_S = 4.0


def _unavailable(error: grpc.aio.AioRpcError) -> DependencyUnavailable:
    return DependencyUnavailable(f"the ML engine cannot answer now ({error.code().name}): try again shortly")


def _span(timeframe: str, bars: int) -> timedelta:
    """A time span holding at least `bars` bars of `timeframe` after gaps (nights, weekends,
    holidays), and at most MAX_BARS of them."""
    match = _TIMEFRAME.match(timeframe)
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else 86_400
    return timedelta(seconds=bars * seconds * 3 + min(4 * 86_400, 2000 * seconds))


class MlEngineMarket:
    def __init__(self, channel: ServiceChannel) -> None:
        self.service = channel

    async def symbols(self) -> set[str]:
        stub = market_data_service_pb2_grpc.MarketDataServiceStub(self.service.channel())
        try:
            reply = await stub.ListSymbols(
                market_data_service_pb2.ListSymbolsRequest(),
                metadata=self.service.metadata(),
                timeout=CALL_DEADLINE_S,
            )
        except grpc.aio.AioRpcError as error:
            raise _unavailable(error) from None
        return {s.info.symbol.upper() for s in reply.symbols}

    async def indicators(self) -> set[str]:
        stub = indicator_service_pb2_grpc.IndicatorServiceStub(self.service.channel())
        try:
            reply = await stub.ListIndicators(
                indicator_service_pb2.ListIndicatorsRequest(),
                metadata=self.service.metadata(),
                timeout=CALL_DEADLINE_S,
            )
        except grpc.aio.AioRpcError as error:
            raise _unavailable(error) from None
        return {i.name.lower() for i in reply.indicators}

    async def strategies(self) -> dict[str, set[str]]:
        stub = backtest_service_pb2_grpc.BacktestServiceStub(self.service.channel())
        try:
            reply = await stub.ListStrategies(
                backtest_service_pb2.ListStrategiesRequest(),
                metadata=self.service.metadata(),
                timeout=CALL_DEADLINE_S,
            )
        except grpc.aio.AioRpcError as error:
            raise _unavailable(error) from None
        return {s.name: {p.name for p in s.parameters} for s in reply.strategies}

    async def bars(self, symbol: str, timeframe: str, *, start: datetime | None, limit: int) -> list[Bar]:
        request = market_data_service_pb2.GetHistoryRequest(symbol=symbol, timeframe=timeframe, limit=limit)
        if start is not None:
            # GetHistory answers the most recent bars of a window: bound the window's end so that
            # its first `limit` bars are in it, then keep those.
            request.start = start.isoformat()
            request.end = (start + _span(timeframe, limit)).isoformat()
            request.limit = MAX_BARS
        stub = market_data_service_pb2_grpc.MarketDataServiceStub(self.service.channel())
        try:
            reply = await stub.GetHistory(request, metadata=self.service.metadata(), timeout=CALL_DEADLINE_S)
        except grpc.aio.AioRpcError as error:
            if error.code() in _DOWN:
                raise _unavailable(error) from None
            raise UnknownTimeframe(error.details() or "") from None
        bars = [Bar(b.time.ToDatetime(tzinfo=UTC), b.close) for b in reply.bars]
        return bars[:limit] if start is not None else bars

    async def model_answer(self, symbol: str, timeframe: str, as_of: datetime) -> ModelAnswer:
        """The model's direction for the horizon whose bars are `timeframe`, as of `as_of`: up when
        the middle of its predicted range is above the close."""
        stub = prediction_service_pb2_grpc.PredictionServiceStub(self.service.channel())
        request = prediction_service_pb2.PredictRequest(
            symbol=symbol, horizon="all", as_of=to_timestamp(as_of)
        )
        try:
            reply = await stub.Predict(request, metadata=self.service.metadata(), timeout=CALL_DEADLINE_S)
        except grpc.aio.AioRpcError as error:
            if error.code() in _DOWN - {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}:
                raise _unavailable(error) from None
            return ModelAnswer("", f"no model answered: {error.details()}")
        prediction = next((p for p in reply.predictions if p.timeframe == timeframe), None)
        if prediction is None:
            return ModelAnswer("", f"no model serves {symbol} at {timeframe}")
        middle = (prediction.predicted_high_pct + prediction.predicted_low_pct) / 2
        note = (
            f"{prediction.horizon}: range {prediction.predicted_low_pct:+.2f}% to "
            f"{prediction.predicted_high_pct:+.2f}% over {prediction.lookahead_bars} bars"
        )
        return ModelAnswer(UP if middle > 0 else DOWN, note, prediction.horizon)
