"""Paper trading on a real store (SQLite always, PostgreSQL when TEST_DATABASE_URL is set), served
in process behind the production interceptors; bars are fed with the consumer's own use case."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import grpc
import pytest

from business.paper_trading.data.repositories import SqlPaperRepository
from business.paper_trading.domain.context import PaperTrading
from business.paper_trading.domain.entities import Bar, Costs, Instrument
from business.paper_trading.domain.feed import apply_bar
from business.paper_trading.domain.matching import BarOutcome
from business.paper_trading.handlers import PaperTradingHandlers
from business.paper_trading.wiring import load_instruments
from business.shared.database import BusinessStore
from service_runtime.in_process import serve_in_process
from tests.support.in_process import TestCallers
from trading.paper.v1 import paper_trading_service_pb2 as pb
from trading.paper.v1 import paper_trading_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["PaperTradingService"].full_name
HOUR = 3600
# A bar time far in the future of any order placed by a test (orders fill on bars after placement).
START = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def paper(store: BusinessStore) -> PaperTrading:
    built = PaperTrading(transactions=store.units_of_work(SqlPaperRepository), costs=Costs(commission=0.001))
    load_instruments(
        built,
        [Instrument("ACME", 0.01, 1, START, 100.0), Instrument("LOTS", 0.05, 10, START, 20.0)],
    )
    return built


class Feed:
    """Bars one hour apart after START, processed like the live consumer does."""

    def __init__(self, paper: PaperTrading) -> None:
        self.paper = paper
        self.times = itertools.count(START + HOUR, HOUR)

    def bar(
        self, open_: float, high: float, low: float, close: float, symbol: str = "ACME"
    ) -> BarOutcome | None:
        return apply_bar(self.paper, Bar(symbol, next(self.times), open_, high, low, close))


@pytest.fixture
def feed(paper: PaperTrading) -> Feed:
    return Feed(paper)


@pytest.fixture
async def stub(paper: PaperTrading, callers: TestCallers) -> AsyncIterator[pb_grpc.PaperTradingServiceStub]:
    handlers = PaperTradingHandlers(paper)
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_PaperTradingServiceServicer_to_server(handlers, server)],
        verifier=callers.verifier(),
    ) as served:
        yield pb_grpc.PaperTradingServiceStub(served.channel)


@pytest.fixture
def as_user(callers: TestCallers) -> Callable[[str], tuple[tuple[str, str], ...]]:
    return lambda subject: callers.metadata(subject=subject)


def code_of(error: grpc.aio.AioRpcError) -> grpc.StatusCode:
    return error.code()
