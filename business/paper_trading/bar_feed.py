"""The bar feed paper trading fills on: the ML engine's MarketDataService.StreamBars over internal
gRPC with a service token (business/shared/ml_engine_channel.py), consumed for as long as business
runs. A stream that ends or fails (the engine restarts, the one-minute token expires) is opened
again by itself, at once after an orderly end, with a growing pause after an error. Bars already
processed are skipped by the per-symbol cursor (apply_bar), so reconnecting never fills a bar twice,
and each (re)connection asks each symbol to resume after its own cursor (`resume_after`), so a
restarted engine's replay of each symbol starts where paper trading left off instead of at its first
bar (or at the time of the symbol furthest behind).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc

from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Bar
from business.paper_trading.domain.feed import apply_bar, resume_points
from service_runtime.service_token import SERVICE_STREAM_DEADLINE_S, ServiceChannel
from service_runtime.timestamps import to_timestamp
from trading.market.v1 import market_data_service_pb2 as market_pb
from trading.market.v1 import market_data_service_pb2_grpc as market_grpc

log = logging.getLogger(__name__)


@dataclass
class FeedStats:
    connections: int = 0
    bars: int = 0
    processed: int = 0  # bars that were new (not skipped by the cursor)


class BarFeedConsumer:
    def __init__(
        self,
        channel: ServiceChannel,
        paper: PaperTrading,
        timeframe: str,
        symbols: tuple[str, ...] = (),
        first_pause_s: float = 0.5,
        max_pause_s: float = 30.0,
    ) -> None:
        self.channel = channel
        self.paper = paper
        self.symbols = symbols
        self.timeframe = timeframe
        self.first_pause_s = first_pause_s
        self.max_pause_s = max_pause_s
        self.stats = FeedStats()

    async def run(self) -> None:
        """Consumes the stream until cancelled."""
        pause = self.first_pause_s
        while True:
            try:
                await self._consume()
                pause = self.first_pause_s
                continue  # an orderly end (token expiry, engine shutdown): open it again at once
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as error:
                # The token's end (once a minute) is routine: a fresh one now, said quietly.
                routine = error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.DEADLINE_EXCEEDED)
                if routine:
                    pause = self.first_pause_s
                log.log(
                    logging.INFO if routine else logging.WARNING,
                    "bar stream: %s %s; reconnecting in %.1fs",
                    error.code().name,
                    error.details(),
                    pause,
                )
            except Exception:
                log.exception("bar stream failed; reconnecting in %.1fs", pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_pause_s)

    async def _consume(self) -> None:
        stub = market_grpc.MarketDataServiceStub(self.channel.channel())
        request = market_pb.StreamBarsRequest(symbols=list(self.symbols), timeframe=self.timeframe)
        for symbol, after in (await asyncio.to_thread(resume_points, self.paper, self.symbols)).items():
            request.resume_after[symbol].CopyFrom(to_timestamp(after))
        call = stub.StreamBars(request, metadata=self.channel.metadata(), timeout=SERVICE_STREAM_DEADLINE_S)
        self.stats.connections += 1
        async for message in call:
            self.stats.bars += 1
            bar = Bar(
                message.symbol,
                message.bar.time.seconds,
                message.bar.open,
                message.bar.high,
                message.bar.low,
                message.bar.close,
            )
            if await asyncio.to_thread(apply_bar, self.paper, bar) is not None:
                self.stats.processed += 1
