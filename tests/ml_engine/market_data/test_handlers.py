"""GetHistory through an in-process server: the packed columns carry the same bars as the
deprecated Bar messages, resampled or not."""

from __future__ import annotations

import pytest

from ml_engine.market_data.bar_cache import BarCache
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.handlers import MarketDataHandlers
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.shared.database import MarketStore
from tests.ml_engine.in_process import serve
from tests.support.in_process import TestCallers
from trading.market.v1 import market_data_service_pb2 as pb
from trading.market.v1 import market_data_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["MarketDataService"].full_name


@pytest.mark.parametrize("timeframe", ["1h", "1d"])
async def test_packed_columns_equal_the_bars(
    market_store: MarketStore, callers: TestCallers, timeframe: str
) -> None:
    import_sample(market_store.engine, "EURUSD")
    handlers = MarketDataHandlers(market_store, BarWindows(market_store.engine, BarCache(100_000)))
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        fields = {"symbol": "EURUSD", "timeframe": timeframe, "limit": 200}
        plain = await stub.GetHistory(pb.GetHistoryRequest(**fields), metadata=callers.metadata())
        packed = await stub.GetHistory(
            pb.GetHistoryRequest(**fields, packed=True), metadata=callers.metadata()
        )
    assert len(packed.bars) == 0 and not plain.HasField("columns")
    c = packed.columns
    assert len(c.time_seconds) == len(plain.bars) == 200
    assert list(c.time_seconds) == [b.time.seconds for b in plain.bars]
    for name in ("open", "high", "low", "close", "volume"):
        assert list(getattr(c, name)) == [getattr(b, name) for b in plain.bars]
    assert c.last_complete == plain.bars[-1].complete
    assert all(b.complete for b in plain.bars[:-1])
    assert packed.next_page_token == plain.next_page_token != ""
