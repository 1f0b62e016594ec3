"""The bar feed end to end in process: the ML engine's MarketDataService.StreamBars (a real handler
over a scripted market feed) -> business's consumer on a service-token channel -> fills. The
consumer reconnects by itself, resumes after the bars it has processed and never fills a bar twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import grpc
import pytest

from business.paper_trading.bar_feed import BarFeedConsumer
from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Instrument
from business.paper_trading.wiring import load_instruments
from ml_engine.market_data.bar_stream import BarHub
from ml_engine.market_data.domain.timeframes import Timeframe
from ml_engine.market_data.feeds.feed import FeedBar
from ml_engine.market_data.handlers import MarketDataHandlers
from service_runtime.in_process import serve_in_process
from service_runtime.service_token import ServiceChannel
from service_runtime.timestamps import to_timestamp
from tests.business.paper_trading.conftest import HOUR, START
from tests.support.in_process import AUDIENCE, ISSUER, TestCallers, violations
from trading.market.v1 import market_data_service_pb2 as market_pb
from trading.market.v1 import market_data_service_pb2_grpc as market_grpc
from trading.paper.v1 import paper_trading_service_pb2 as pb
from trading.paper.v1 import paper_trading_service_pb2_grpc as pb_grpc

MARKET = market_pb.DESCRIPTOR.services_by_name["MarketDataService"].full_name
BARS = [
    FeedBar("ACME", "1h", START + HOUR * (n + 1), 100.0 + n, 101.0 + n, 99.0 + n, 100.5 + n, 10)
    for n in range(3)
]


class ScriptedFeed:
    """The market feed interface: the scripted bars (from the first after `after`, as a replay does),
    then nothing more (a quiet market)."""

    def __init__(self, bars: list[FeedBar] = BARS, honours_after: bool = True) -> None:
        self.scripted = bars
        self.honours_after = honours_after  # False: like a live feed, every bar it has is sent
        self.afters: dict[str, int | None] = {}  # the resume point each symbol's reader was started with

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        self.afters[symbol] = after
        for bar in self.scripted:
            skipped = self.honours_after and after is not None and bar.time <= after
            if bar.symbol == symbol and not skipped:
                yield bar
        await asyncio.Event().wait()


class ScriptedMarket(MarketDataHandlers):
    """The real StreamBars over the scripted feed, with `stored` as the symbols with stored bars."""

    def __init__(self, hub: BarHub, stored: tuple[str, ...]) -> None:
        super().__init__(cast(Any, None), cast(Any, None), None, hub)
        self.stored = stored

    def stored_timeframes(self) -> list[tuple[str, str]]:
        return [(symbol, "1h") for symbol in self.stored]


@contextlib.asynccontextmanager
async def serve_market(
    hub: BarHub, callers: TestCallers, stored: tuple[str, ...] = ("ACME",)
) -> AsyncIterator[Any]:
    """The real StreamBars over `hub`, served in process with the real interceptors."""
    handlers = ScriptedMarket(hub, stored)
    async with serve_in_process(
        service_names=[MARKET],
        registrars=[lambda server: market_grpc.add_MarketDataServiceServicer_to_server(handlers, server)],
        verifier=callers.verifier(),
    ) as served:
        yield served


async def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def service_channel(address: str, callers: TestCallers) -> ServiceChannel:
    return ServiceChannel(
        target=address,
        keys=callers.keys,
        subject="service:business",
        issuer=ISSUER,
        audience=AUDIENCE,
        timeout_s=5,
    )


async def place_market_buy(stub: pb_grpc.PaperTradingServiceStub, meta: Any) -> str:
    created = await stub.CreatePortfolio(
        pb.CreatePortfolioRequest(name="Feed", initial_cash_minor=1_000_000), metadata=meta
    )
    pid = created.portfolio.portfolio_id
    order = pb.PlaceOrderRequest(
        portfolio_id=pid, symbol="ACME", side=pb.ORDER_SIDE_BUY, type=pb.ORDER_TYPE_MARKET, quantity=2
    )
    await stub.PlaceOrder(order, metadata=meta)
    return pid


async def consume(consumer: BarFeedConsumer, until: Callable[[], bool]) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(until, "the consumer processed the bars")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_stream_bars_feeds_paper_trading(
    paper: PaperTrading, callers: TestCallers, stub: pb_grpc.PaperTradingServiceStub
) -> None:
    meta = callers.metadata(subject="alice")
    pid = await place_market_buy(stub, meta)
    hub = BarHub(ScriptedFeed(), linger_s=0)
    async with serve_market(hub, callers) as served:
        # Users cannot open the internal bar stream.
        user_stream = market_grpc.MarketDataServiceStub(served.channel).StreamBars(
            market_pb.StreamBarsRequest(symbols=["ACME"]), metadata=meta
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await user_stream.read()
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

        channel = service_channel(served.address, callers)
        consumer = BarFeedConsumer(channel, paper, "1h", ("ACME",))
        await consume(consumer, lambda: consumer.stats.processed == len(BARS))
        await channel.close()
    await hub.close()
    fills = (await stub.ListFills(pb.ListFillsRequest(portfolio_id=pid), metadata=meta)).fills
    assert [(f.quantity, f.price) for f in fills] == [(2, BARS[0].open)]


class ReplayingFromTheStart(market_grpc.MarketDataServiceServicer):
    """Each connection replays every bar published so far, then one more, and ends: the consumer
    must reconnect by itself and skip the bars it has processed."""

    def __init__(self) -> None:
        self.calls = 0

    async def StreamBars(self, request: market_pb.StreamBarsRequest, context: Any) -> AsyncIterator[Any]:
        self.calls += 1
        for bar in BARS[: min(self.calls, len(BARS))]:
            yield market_pb.StreamBarsResponse(
                symbol=bar.symbol,
                timeframe=bar.timeframe,
                bar=market_pb.Bar(
                    time=to_timestamp(bar.time), open=bar.open, high=bar.high, low=bar.low, close=bar.close
                ),
            )


async def test_the_consumer_reconnects_and_never_fills_a_bar_twice(
    paper: PaperTrading, callers: TestCallers, stub: pb_grpc.PaperTradingServiceStub
) -> None:
    meta = callers.metadata(subject="alice")
    pid = await place_market_buy(stub, meta)
    servicer = ReplayingFromTheStart()
    register: Callable[[Any], None] = lambda server: market_grpc.add_MarketDataServiceServicer_to_server(  # noqa: E731
        servicer, server
    )
    async with serve_in_process(
        service_names=[MARKET], registrars=[register], verifier=callers.verifier()
    ) as served:
        channel = service_channel(served.address, callers)
        consumer = BarFeedConsumer(channel, paper, "1h", ("ACME",), first_pause_s=0.01)
        await consume(consumer, lambda: consumer.stats.connections > len(BARS))
        await channel.close()
    assert consumer.stats.processed == len(BARS)
    assert consumer.stats.bars > len(BARS)  # replayed bars arrived again and were skipped
    fills = (await stub.ListFills(pb.ListFillsRequest(portfolio_id=pid), metadata=meta)).fills
    assert len(fills) == 1


async def run_engine(
    feed: ScriptedFeed,
    paper: PaperTrading,
    callers: TestCallers,
    processed: int,
    symbols: tuple[str, ...] = ("ACME",),
    stored: tuple[str, ...] = ("ACME",),
) -> BarFeedConsumer:
    """One run of the ML engine (a fresh hub over `feed`) until the consumer processed `processed` bars."""
    hub = BarHub(feed, linger_s=0)
    async with serve_market(hub, callers, stored) as served:
        channel = service_channel(served.address, callers)
        consumer = BarFeedConsumer(channel, paper, "1h", symbols)
        await consume(consumer, lambda: consumer.stats.processed == processed)
        await channel.close()
    await hub.close()
    return consumer


@pytest.mark.parametrize("honours_after", [True, False], ids=["replay", "feed-ignoring-after"])
async def test_a_reconnect_resumes_after_the_last_processed_bar(
    paper: PaperTrading, callers: TestCallers, stub: pb_grpc.PaperTradingServiceStub, honours_after: bool
) -> None:
    """The engine restarts (a fresh hub, its replay from the start): the consumer's new stream asks to
    resume after its cursor; the new reader starts at the next bar, and the hub sends no bar not
    newer than the cursor even from a feed that ignores it."""
    await place_market_buy(stub, callers.metadata(subject="alice"))
    first = ScriptedFeed(BARS[:2])
    await run_engine(first, paper, callers, processed=2)
    assert first.afters == {"ACME": START}  # the seeded cursor: the bar before the first scripted one
    restarted = ScriptedFeed(BARS, honours_after)
    consumer = await run_engine(restarted, paper, callers, processed=1)
    assert restarted.afters == {"ACME": BARS[1].time}  # the new reader was asked to start after the cursor
    assert consumer.stats.bars == 1  # only the new bar was sent


async def test_each_symbol_resumes_after_its_own_cursor(
    paper: PaperTrading, callers: TestCallers, stub: pb_grpc.PaperTradingServiceStub
) -> None:
    """As business runs (every instrument followed): LOTS stands behind ACME, and NOBARS (configured,
    like BTCUSD by default, but never fed) has no cursor. After an engine restart ACME still resumes
    after its own cursor: a symbol behind, or one without a cursor, holds back no other (with one
    resume point for the whole stream, ACME's replay restarted from its first bar)."""
    load_instruments(paper, [Instrument("NOBARS", 0.01, 1, None, None)])
    await place_market_buy(stub, callers.metadata(subject="alice"))
    both = ("ACME", "LOTS")
    await run_engine(ScriptedFeed(BARS[:2]), paper, callers, processed=2, symbols=(), stored=both)
    restarted = ScriptedFeed(BARS)
    consumer = await run_engine(restarted, paper, callers, processed=1, symbols=(), stored=both)
    assert restarted.afters == {"ACME": BARS[1].time, "LOTS": START}
    assert consumer.stats.bars == 1  # ACME's third bar only: no replay from its first


async def test_a_malformed_resume_point_is_refused_naming_the_field(callers: TestCallers) -> None:
    hub = BarHub(ScriptedFeed(), linger_s=0)
    async with serve_market(hub, callers) as served:
        channel = service_channel(served.address, callers)
        request = market_pb.StreamBarsRequest()
        request.resume_after["not a symbol!"].CopyFrom(to_timestamp(START))
        call = market_grpc.MarketDataServiceStub(channel.channel()).StreamBars(
            request, metadata=channel.metadata()
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call.read()
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [field for field, _ in violations(refused.value)] == ["resume_after"]
        await channel.close()
    await hub.close()
