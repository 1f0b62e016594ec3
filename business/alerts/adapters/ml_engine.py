"""The alerts feature's calls to the ML engine, with business's service token: the symbol
catalogue (ListSymbols, cached a minute) and each feed's prediction stream (StreamPredictions)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import grpc

from business.alerts.domain.entities import FeedBar
from service_runtime.errors import DependencyUnavailable
from service_runtime.service_token import SERVICE_STREAM_DEADLINE_S, ServiceChannel, stream_token_expired
from trading.market.v1 import market_data_service_pb2 as market_pb
from trading.market.v1 import market_data_service_pb2_grpc as market_grpc
from trading.ml.v1 import prediction_pb2
from trading.ml.v1 import prediction_service_pb2 as prediction_pb
from trading.ml.v1 import prediction_service_pb2_grpc as prediction_grpc

ACTIONS = {
    prediction_pb2.SIGNAL_ACTION_BUY: "buy",
    prediction_pb2.SIGNAL_ACTION_SELL: "sell",
}
CATALOGUE_TTL_S = 60.0
CATALOGUE_DEADLINE_S = 5.0
log = logging.getLogger(__name__)


class MlSymbolCatalogue:
    def __init__(self, channel: ServiceChannel, ttl_s: float = CATALOGUE_TTL_S) -> None:
        self.channel = channel
        self.ttl_s = ttl_s
        self._symbols: frozenset[str] = frozenset()
        self._read_at = float("-inf")

    async def symbols(self) -> frozenset[str]:
        if time.monotonic() - self._read_at < self.ttl_s:
            return self._symbols
        stub = market_grpc.MarketDataServiceStub(self.channel.channel())
        try:
            # wait_for_ready: a channel still backing off from an earlier refused connection (the ML
            # engine starting or restarting) waits for it, up to the deadline, instead of failing now.
            reply = await stub.ListSymbols(
                market_pb.ListSymbolsRequest(),
                metadata=self.channel.metadata(),
                wait_for_ready=True,
                timeout=CATALOGUE_DEADLINE_S,
            )
        except grpc.aio.AioRpcError as error:
            log.warning("alerts: ListSymbols failed: %s %s", error.code().name, error.details())
            raise DependencyUnavailable(f"ML engine unavailable: {error.code().name}") from error
        self._symbols = frozenset(s.info.symbol for s in reply.symbols)
        self._read_at = time.monotonic()
        return self._symbols


def feed_bar(message: prediction_pb.StreamPredictionsResponse) -> FeedBar:
    return FeedBar(
        symbol=message.symbol,
        timeframe=message.timeframe,
        bar_time=message.bar_time.seconds,
        open=message.open,
        high=message.high,
        low=message.low,
        close=message.close,
        action=ACTIONS.get(message.signal.action, "hold"),
        confidence=message.signal.confidence,
        predicted_high=message.prediction.predicted_high,
        predicted_low=message.prediction.predicted_low,
    )


class MlPredictionFeed:
    def __init__(self, channel: ServiceChannel) -> None:
        self.channel = channel

    async def bars(self, symbol: str, timeframe: str, after: int | None = None) -> AsyncIterator[FeedBar]:
        """The stream's bars; a broken stream raises DependencyUnavailable, one whose service token
        expired (or that outlived it: SERVICE_STREAM_DEADLINE_S) just ends (the caller opens it again
        with a fresh token)."""
        stub = prediction_grpc.PredictionServiceStub(self.channel.channel())
        request = prediction_pb.StreamPredictionsRequest(symbol=symbol, timeframe=timeframe)
        if after is not None:
            request.after.FromSeconds(after)
        call = stub.StreamPredictions(
            request, metadata=self.channel.metadata(), timeout=SERVICE_STREAM_DEADLINE_S
        )
        try:
            async for message in call:
                yield feed_bar(message)
        except grpc.aio.AioRpcError as error:
            if stream_token_expired(error):
                return
            raise DependencyUnavailable(
                f"prediction stream: {error.code().name} {error.details()}"
            ) from error
        finally:
            call.cancel()
