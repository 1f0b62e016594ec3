"""GetIndicators through an in-process server: the packed form (wire bytes written from the arrays)
carries the same series as the deprecated ListValue form (warm-up as a count instead of nulls),
with or without the bar cache."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from ml_engine.indicators.domain.compute import IndicatorSeries
from ml_engine.indicators.handlers import (
    GAP_SCAN_HEAD,
    IndicatorHandlers,
    add_indicator_service,
    leading_gaps,
    packed_response,
)
from ml_engine.market_data.bar_cache import BarCache
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.row_checks import BarRow
from ml_engine.market_data.domain.symbols import SymbolInfo
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.shared.database import MarketStore
from tests.ml_engine.in_process import serve
from tests.ml_engine.stored_bars import store_next_bar
from tests.support.in_process import TestCallers
from trading.market.v1 import indicator_service_pb2 as pb
from trading.market.v1 import indicator_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["IndicatorService"].full_name


@pytest.mark.parametrize("cached", [False, True])
async def test_packed_form_equals_the_value_form(
    market_store: MarketStore, callers: TestCallers, cached: bool
) -> None:
    import_sample(market_store.engine, "GOOG")
    windows = BarWindows(market_store.engine, BarCache(100_000 if cached else 0))
    handlers = IndicatorHandlers(windows)
    async with serve(SERVICE, lambda server: add_indicator_service(handlers, server), callers) as channel:
        stub = pb_grpc.IndicatorServiceStub(channel)
        fields = {"symbol": "GOOG", "indicators": ["rsi:14,macd,bbands:20,2"], "limit": 2148}
        plain = await stub.GetIndicators(pb.GetIndicatorsRequest(**fields), metadata=callers.metadata())
        packed = await stub.GetIndicators(
            pb.GetIndicatorsRequest(**fields, packed=True), metadata=callers.metadata()
        )
    assert len(packed.times) == 0 and len(packed.time_seconds) == len(plain.times) == 2148
    assert list(packed.time_seconds) == [t.seconds for t in plain.times]
    assert packed.bars_used == plain.bars_used and packed.warmup_bars == plain.warmup_bars
    assert [s.key for s in packed.indicators] == [s.key for s in plain.indicators]
    warmups = []
    for old, new in zip(plain.indicators, packed.indicators, strict=True):
        assert new.warmup_bars == old.warmup_bars and dict(new.params) == dict(old.params)
        for a, b in zip(old.outputs, new.outputs, strict=True):
            assert a.name == b.name and len(b.values.values) == 0
            values = [v.number_value if v.HasField("number_value") else None for v in a.values.values]
            lead = next(i for i, v in enumerate(values) if v is not None)
            assert b.warmup == lead and b.warmup + len(b.packed_values) == len(values)
            assert list(b.packed_values) == values[lead:]
            assert not any(math.isnan(v) for v in b.packed_values)
            warmups.append(b.warmup)
    # The whole stored series was asked for: the warm-up shows as missing leading values.
    assert max(warmups) == 33 and min(warmups) == 14


@pytest.mark.parametrize(
    "gaps", [0, 1, 33, GAP_SCAN_HEAD - 1, GAP_SCAN_HEAD, GAP_SCAN_HEAD + 1, 17 * GAP_SCAN_HEAD, 5000]
)
def test_leading_gaps_counts_the_nans_before_the_first_value(gaps: int) -> None:
    values = np.arange(5000, dtype=np.float64)
    values[:gaps] = np.nan
    values[gaps + 3 :: 7] = np.nan  # later gaps are values of the series, not warm-up
    assert leading_gaps(values) == gaps
    assert leading_gaps(values[:0]) == 0


def test_packed_wire_bytes_parse_as_the_message() -> None:
    """The packed answer is written as bytes from the arrays: it parses into the message the
    fields describe, warm-up counted, an output with no defined value carrying none."""
    nan = float("nan")
    times = np.array([100, 200, 300, 400], dtype=np.int64)
    results = [
        IndicatorSeries("rsi:2", "rsi", {"period": 2}, 2, {"rsi": np.array([nan, nan, nan, 10.5, 11.0])}),
        IndicatorSeries(
            "macd:1,2,3",
            "macd",
            {"slow": 2},  # one parameter: a map's order on the wire is the serialiser's choice
            4,
            {"macd": np.array([nan, 1.0, 2.0, 3.0, -4.0]), "signal": np.full(5, nan)},
        ),
    ]
    head = pb.GetIndicatorsResponse(symbol="X", timeframe="1h", bars_used=5, warmup_bars=4)
    wire = packed_response(head, times, results, first=1)
    parsed = pb.GetIndicatorsResponse.FromString(wire)
    assert parsed.SerializeToString() == wire  # field order as a serialised message has it
    assert (parsed.symbol, parsed.timeframe, parsed.bars_used, parsed.warmup_bars) == ("X", "1h", 5, 4)
    assert list(parsed.time_seconds) == [100, 200, 300, 400] and not parsed.times
    rsi, macd = parsed.indicators
    assert (rsi.key, rsi.name, dict(rsi.params), rsi.warmup_bars) == ("rsi:2", "rsi", {"period": 2.0}, 2)
    assert [(o.name, o.warmup, list(o.packed_values)) for o in rsi.outputs] == [("rsi", 2, [10.5, 11.0])]
    assert dict(macd.params) == {"slow": 2.0}
    assert [(o.name, o.warmup, list(o.packed_values)) for o in macd.outputs] == [
        ("macd", 0, [1.0, 2.0, 3.0, -4.0]),
        ("signal", 4, []),
    ]


async def test_a_reply_is_computed_once_per_version_of_the_bars(
    empty_market_store: MarketStore, callers: TestCallers
) -> None:
    """Identical requests, one after the other or at once, share one computation until the
    symbol's bars change (a new bar: the engine forgets the symbol, as its imports and bar clock do).
    A store of its own: the new bar would change what later tests read of GOOG."""
    import_sample(empty_market_store.engine, "GOOG")
    windows = BarWindows(empty_market_store.engine, BarCache(100_000))
    handlers = IndicatorHandlers(windows, reply_cache_bytes=64 * 1024 * 1024)
    request = pb.GetIndicatorsRequest(symbol="GOOG", indicators=["rsi:14"], limit=50, packed=True)
    async with serve(SERVICE, lambda server: add_indicator_service(handlers, server), callers) as channel:
        stub = pb_grpc.IndicatorServiceStub(channel)

        async def ask(r: pb.GetIndicatorsRequest = request) -> pb.GetIndicatorsResponse:
            reply: pb.GetIndicatorsResponse = await stub.GetIndicators(r, metadata=callers.metadata())
            return reply

        first = await ask()
        assert await ask() == first and handlers.replies.computations == 1
        other = pb.GetIndicatorsRequest(symbol="goog", indicators=["rsi:14"], limit=49, packed=True)
        assert list((await ask(other)).time_seconds) == list(first.time_seconds)[1:]
        assert handlers.replies.computations == 2  # another window is another reply

        assert windows.last_time(windows.resolve("GOOG", "")) == first.time_seconds[-1]
        later = store_next_bar(empty_market_store, windows, "GOOG", 1.0)
        assert await ask() == first  # unseen until the engine learns of the new bar
        windows.forget("GOOG")
        replies = await asyncio.gather(ask(), ask(), ask())
        assert handlers.replies.computations == 3  # three callers, one computation
        assert all(r == replies[0] for r in replies)
        assert replies[0].time_seconds[-1] == later
        # The new bar's close (1.0, far below GOOG's) pulls the RSI down.
        assert (
            replies[0].indicators[0].outputs[0].packed_values[-1]
            < first.indicators[0].outputs[0].packed_values[-1]
        )


async def test_no_reply_is_kept_without_the_bar_cache(
    market_store: MarketStore, callers: TestCallers
) -> None:
    """With the bar cache off nothing follows the store: every request computes."""
    import_sample(market_store.engine, "GOOG")
    handlers = IndicatorHandlers(BarWindows(market_store.engine, BarCache(0)), reply_cache_bytes=1 << 26)
    request = pb.GetIndicatorsRequest(symbol="GOOG", indicators=["sma:5"], limit=20, packed=True)
    async with serve(SERVICE, lambda server: add_indicator_service(handlers, server), callers) as channel:
        stub = pb_grpc.IndicatorServiceStub(channel)
        first = await stub.GetIndicators(request, metadata=callers.metadata())
        assert await stub.GetIndicators(request, metadata=callers.metadata()) == first
    assert len(first.indicators[0].outputs[0].packed_values) == 20
    assert len(handlers.replies) == 0 and handlers.replies.computations == 0


async def test_bars_before_1970_have_packed_indicators(
    empty_market_store: MarketStore, callers: TestCallers
) -> None:
    """Their times are negative int64s on the wire (ten bytes each, as protobuf writes them); the
    packed reply refused them (ValueError: INTERNAL) while the importer had stored them."""
    days = np.arange(-31, 3) * 86_400  # December 1969 into January 1970
    close = 10.0 + np.arange(len(days)) % 5
    bars = [
        BarRow(i + 2, int(t), c, c + 1, c - 1, c, 100.0)
        for i, (t, c) in enumerate(zip(days, close, strict=True))
    ]
    with empty_market_store.engine.begin() as conn:
        repo.save_symbol(
            conn, repo.StoredSymbol(SymbolInfo("OLD", "Old index", "index", 0.01, "USD", "UTC"), "1d")
        )
        repo.upsert_bars(conn, "OLD", "1d", bars)
    handlers = IndicatorHandlers(BarWindows(empty_market_store.engine, BarCache(100_000)))
    fields = {"symbol": "OLD", "indicators": ["sma:5"], "limit": len(days)}
    async with serve(SERVICE, lambda server: add_indicator_service(handlers, server), callers) as channel:
        stub = pb_grpc.IndicatorServiceStub(channel)
        plain = await stub.GetIndicators(pb.GetIndicatorsRequest(**fields), metadata=callers.metadata())
        packed = await stub.GetIndicators(
            pb.GetIndicatorsRequest(**fields, packed=True), metadata=callers.metadata()
        )
    assert list(packed.time_seconds) == [t.seconds for t in plain.times] == days.tolist()
    (output,) = packed.indicators[0].outputs
    assert output.warmup == 4
    np.testing.assert_allclose(list(output.packed_values), np.convolve(close, np.ones(5) / 5, "valid"))
