"""The alerts feature on a real store (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
with a scripted prediction feed and catalogue in place of the ML engine, and its three services on
a real in-process server behind the production interceptors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest

from business.alerts.domain.entities import FeedBar
from business.alerts.handlers import AlertHandlers, SavedBacktestHandlers, WatchlistHandlers
from business.alerts.wiring import AlertsFeature, assemble
from business.shared.database import BusinessStore
from business.shared.emails import OutgoingEmail
from service_runtime.errors import DependencyUnavailable
from service_runtime.in_process import serve_in_process
from tests.business.people import add_users, plain_users
from tests.support.in_process import TestCallers
from trading.alerts.v1 import (
    alert_service_pb2_grpc,
    saved_backtest_service_pb2_grpc,
    watchlist_service_pb2_grpc,
)

SYMBOLS = frozenset({"EURUSD", "BTCUSD", "GOOG"})
USERS = ("alice", "bob")
SERVICE_NAMES = [
    "trading.alerts.v1.WatchlistService",
    "trading.alerts.v1.AlertService",
    "trading.alerts.v1.SavedBacktestService",
]
HOUR = 3600


class StaticCatalogue:
    def __init__(self, symbols: frozenset[str] = SYMBOLS) -> None:
        self.available = True
        self.known = symbols

    async def symbols(self) -> frozenset[str]:
        if not self.available:
            raise DependencyUnavailable("ML engine unavailable")
        return self.known


@dataclass
class RecordingMailer:
    sent: list[OutgoingEmail] = field(default_factory=list)

    async def send(self, email: OutgoingEmail) -> None:
        self.sent.append(email)


class ScriptedFeed:
    """Plays the bars pushed into each feed's queue; a pushed exception breaks the stream (the ML
    engine going away), so the watcher has to open it again."""

    def __init__(self) -> None:
        self.queues: dict[tuple[str, str], asyncio.Queue[FeedBar | Exception]] = {}
        self.opened: list[tuple[str, str]] = []
        # The resume point each opening asked for (None: from the start).
        self.resumed_after: list[int | None] = []

    def queue(self, symbol: str, timeframe: str = "1h") -> asyncio.Queue[FeedBar | Exception]:
        return self.queues.setdefault((symbol, timeframe), asyncio.Queue())

    async def bars(self, symbol: str, timeframe: str, after: int | None = None) -> AsyncIterator[FeedBar]:
        self.opened.append((symbol, timeframe))
        self.resumed_after.append(after)
        queue = self.queue(symbol, timeframe)
        while True:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            yield item


def feed_bar(
    i: int,
    close: float,
    action: str = "hold",
    confidence: float = 0.5,
    symbol: str = "EURUSD",
    predicted: tuple[float, float] = (0.0, 0.0),
) -> FeedBar:
    return FeedBar(
        symbol,
        "1h",
        1_700_000_000 + i * HOUR,
        close,
        close,
        close,
        close,
        action,
        confidence,
        *predicted[::-1],
    )


@pytest.fixture
def users(store: BusinessStore) -> tuple[str, ...]:
    add_users(store, plain_users(USERS), email_verified=True)
    return USERS


@pytest.fixture
def catalogue() -> StaticCatalogue:
    return StaticCatalogue()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def feed() -> ScriptedFeed:
    return ScriptedFeed()


@pytest.fixture
async def feature(
    store: BusinessStore,
    users: tuple[str, ...],
    catalogue: StaticCatalogue,
    feed: ScriptedFeed,
    mailer: RecordingMailer,
) -> AsyncIterator[AlertsFeature]:
    made = assemble(store, catalogue, feed, mailer, "http://web.test", refresh_s=0.05)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def channel(feature: AlertsFeature, callers: TestCallers) -> AsyncIterator[grpc.aio.Channel]:
    watch, alerts, saved = WatchlistHandlers(feature), AlertHandlers(feature), SavedBacktestHandlers(feature)
    async with serve_in_process(
        service_names=SERVICE_NAMES,
        registrars=[
            lambda server: watchlist_service_pb2_grpc.add_WatchlistServiceServicer_to_server(watch, server),
            lambda server: alert_service_pb2_grpc.add_AlertServiceServicer_to_server(alerts, server),
            lambda server: saved_backtest_service_pb2_grpc.add_SavedBacktestServiceServicer_to_server(
                saved, server
            ),
        ],
        verifier=callers.verifier(),
    ) as served:
        yield served.channel
