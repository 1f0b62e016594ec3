"""The stream hub: one producer per (symbol, timeframe), one computation per bar, every subscriber
the same ordered sequence; errors before the first message; the producer stops after the last leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ml_engine.market_data.bar_windows import BarWindows, Series
from ml_engine.market_data.domain.timeframes import TIMEFRAMES, Timeframe
from ml_engine.market_data.feeds.feed import FeedBar
from ml_engine.market_data.feeds.replay import ReplayFeed
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.streams import StreamHub, StreamMessage, Subscription
from ml_engine.shared import preserialized
from ml_engine.shared.database import MarketStore
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.ml_engine.predictions.support import manifest


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


class GatedFeed:
    """The replay feed, held until every test subscriber has joined."""

    def __init__(self, inner: ReplayFeed) -> None:
        self.inner = inner
        self.open = asyncio.Event()

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        await self.open.wait()
        async for bar in self.inner.bars(symbol, timeframe, after):
            yield bar


async def collect(subscription: Subscription) -> list[StreamMessage]:
    return [m async for m in subscription.messages()]


def hub_for(
    store: MarketStore, registry: ModelRegistry, loop: bool = False, linger_s: float = 0.01
) -> tuple[StreamHub, GatedFeed]:
    import_sample(store.engine, "EURUSD")
    windows = BarWindows(store.engine)
    feed = GatedFeed(ReplayFeed(windows, speed=1e9, history=6, loop=loop, sleep=no_wait))
    return StreamHub(Forecaster(windows, registry, manifest()), feed, linger_s=linger_s), feed


async def test_subscribers_share_one_computation_per_bar(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    hub, feed = hub_for(market_store, registry)
    subscriptions = [await hub.subscribe("eurusd", tf) for tf in ("1h", "", "1h")]
    assert hub.subscribers("EURUSD", "1h") == 3 and hub.running() == [("EURUSD", "1h")]
    feed.open.set()
    received = await asyncio.wait_for(asyncio.gather(*(collect(s) for s in subscriptions)), 60)
    stored = (
        BarWindows(market_store.engine).latest(Series("EURUSD", TIMEFRAMES["1h"], TIMEFRAMES["1h"]), 6).bars
    )
    for messages in received:
        assert [m.sequence for m in messages] == [1, 2, 3, 4, 5, 6]
        assert [m.bar_time for m in messages] == [int(t) for t in stored.times]
        assert [m.close for m in messages] == list(stored.close)
        for m in messages:
            assert m.signal.forecast.as_of == m.bar_time  # as of the bar that just closed
            assert m.signal.forecast.horizon.name == "intraday" and m.timeframe == "1h"
    # The very same objects: computed once, fanned out.
    assert all(a is b is c for a, b, c in zip(*received, strict=True))
    assert hub.computations == 6
    for s in subscriptions:
        s.close()
    await hub.close()


async def test_a_resuming_subscriber_starts_the_replay_after_its_last_bar(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    """A consumer reconnecting to a restarted engine sends the last bar it processed (`after`):
    the replay it starts begins after that bar, and it is sent nothing older."""
    hub, feed = hub_for(market_store, registry)
    stored = (
        BarWindows(market_store.engine).latest(Series("EURUSD", TIMEFRAMES["1h"], TIMEFRAMES["1h"]), 6).bars
    )
    times = [int(t) for t in stored.times]
    resuming = await hub.subscribe("EURUSD", "1h", after=times[3])
    feed.open.set()
    received = await asyncio.wait_for(collect(resuming), 60)
    assert [m.bar_time for m in received] == times[4:]
    assert hub.computations == 2  # the replay started there: bars 1-4 were never computed
    resuming.close()
    await hub.close()


async def test_errors_come_before_any_message(market_store: MarketStore, registry: ModelRegistry) -> None:
    hub, _ = hub_for(market_store, registry)
    with pytest.raises(NotFound):
        await hub.subscribe("NOPE", "1h")
    with pytest.raises(FailedPrecondition):
        await hub.subscribe("EURUSD", "5m")
    with pytest.raises(InvalidArgument) as bad:
        await hub.subscribe("EURUSD", "2h")
    assert bad.value.violations[0].field == "timeframe"
    assert hub.running() == []


async def test_producer_stops_after_the_last_subscriber_leaves(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    hub, feed = hub_for(market_store, registry, loop=True)
    first = await hub.subscribe("EURUSD", "1h")
    second = await hub.subscribe("EURUSD", "1h")
    feed.open.set()
    await asyncio.wait_for(anext(first.messages()), 60)
    first.close()
    assert hub.running() == [("EURUSD", "1h")]  # one subscriber is left
    second.close()

    async def stopped() -> None:
        while hub.running():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(stopped(), 30)
    assert hub.subscribers("EURUSD", "1h") == 0


def test_a_slow_subscriber_loses_its_oldest_messages() -> None:
    class Hub:
        def _leave(self, _: Subscription) -> None:
            pass

    subscription = Subscription(Hub(), ("X", "1h"), queue_size=2)  # type: ignore[arg-type]
    messages = [StreamMessage("X", "1h", i, i, 1.0, None, 0.0) for i in range(1, 6)]  # type: ignore[arg-type]
    for m in messages:
        subscription.offer(m)  # never blocks
    assert subscription.dropped == 3
    assert [subscription.queue.get_nowait().sequence for _ in range(2)] == [4, 5]  # type: ignore[union-attr]


async def test_each_bar_is_serialised_once_for_every_subscriber(
    market_store: MarketStore, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml_engine.predictions import handlers as prediction_handlers
    from trading.ml.v1 import prediction_service_pb2 as pb

    built: list[int] = []
    build = prediction_handlers.stream_response

    def counting(m: StreamMessage) -> pb.StreamPredictionsResponse:
        built.append(m.sequence)
        return build(m)

    monkeypatch.setattr(prediction_handlers, "stream_response", counting)
    hub, feed = hub_for(market_store, registry)
    handlers = prediction_handlers.PredictionHandlers(hub.forecaster, hub, None)  # type: ignore[arg-type]
    request = pb.StreamPredictionsRequest(symbol="EURUSD", timeframe="1h")

    async def receive() -> list[bytes]:
        return [m async for m in handlers.StreamPredictions(request, None)]

    readers = [asyncio.create_task(receive()) for _ in range(3)]
    while hub.subscribers("EURUSD", "1h") < 3:
        await asyncio.sleep(0.01)
    feed.open.set()
    received = await asyncio.wait_for(asyncio.gather(*readers), 60)
    assert all(a is b is c for a, b, c in zip(*received, strict=True))  # the same bytes, sent to all
    assert [pb.StreamPredictionsResponse.FromString(b).sequence for b in received[0]] == [1, 2, 3, 4, 5, 6]
    assert built == [1, 2, 3, 4, 5, 6]  # one message built and serialised per bar, not per subscriber
    # What goes on the wire is exactly the message, as the generated serializer would write it.
    assert preserialized.serialized(received[0][0]) is received[0][0]
    message = pb.StreamPredictionsResponse.FromString(received[0][0])
    assert preserialized.serialized(message) == received[0][0]
    await hub.close()
