"""GetHistory through an in-process server: the packed columns carry the same bars as the
deprecated Bar messages, resampled or not; GetHistoryJson (the REST route) renders the same answer
as the JSON the edge's transcoder prints for GetHistory."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from ml_engine.market_data import handlers as market_data_handlers
from ml_engine.market_data.bar_cache import BarCache
from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_stream import BarHub
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.timeframes import Timeframe, parse_timeframe
from ml_engine.market_data.domain.times import MAX_TIME
from ml_engine.market_data.feeds.feed import FeedBar
from ml_engine.market_data.handlers import MarketDataHandlers, bar_columns, followed_streams
from ml_engine.market_data.importing.importer import ImportReport, import_csv, import_sample
from ml_engine.shared.audit import AUDIT_LOG
from ml_engine.shared.database import MarketStore
from ml_engine.shared.proto_mapping import packed_varints
from service_runtime.errors import InvalidArgument
from tests.ml_engine.in_process import serve
from tests.ml_engine.market_data.imports import import_as_admin
from tests.ml_engine.predictions.support import store_synthetic
from tests.ml_engine.stored_bars import store_next_bar
from tests.support.in_process import TestCallers, violated_fields
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


def _handlers(market_store: MarketStore) -> MarketDataHandlers:
    import_sample(market_store.engine, "EURUSD")
    return MarketDataHandlers(market_store, BarWindows(market_store.engine, BarCache(100_000)))


@pytest.mark.parametrize(
    "fields",
    [
        {"timeframe": "1h", "limit": 5000, "packed": True},
        {"timeframe": "1h", "limit": 300},
        # Resampled, the last day still open: its bar is incomplete.
        {"timeframe": "1d", "limit": 40, "packed": True},
        {"timeframe": "1d", "limit": 40},
        {"timeframe": "4h", "start": "2017-06-01", "end": "2017-06-03", "packed": True},
        # Nothing in the window: empty series, no page token.
        {"start": "2030-01-01", "packed": True},
        {"start": "2030-01-01"},
    ],
)
async def test_rendered_json_is_the_transcoded_json(
    market_store: MarketStore, callers: TestCallers, fields: dict[str, Any]
) -> None:
    handlers = _handlers(market_store)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        request = pb.GetHistoryRequest(symbol="eurusd", **fields)
        message = await stub.GetHistory(request, metadata=callers.metadata())
        body = await stub.GetHistoryJson(request, metadata=callers.metadata())
    assert body.content_type == "application/json"
    # What Envoy's transcoder prints for the message (always_print_primitive_fields: every field
    # without presence), field by field and value by value, in field-number order.
    expected = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    rendered = json.loads(body.data)
    assert rendered == expected
    assert list(rendered) == [
        f.json_name for f in pb.GetHistoryResponse.DESCRIPTOR.fields if f.json_name in expected
    ]
    if request.packed:
        assert next(iter(rendered["columns"])) == "timeSeconds" and rendered["bars"] == []
        assert all(isinstance(t, str) for t in rendered["columns"]["timeSeconds"])  # int64: strings
    else:
        assert "columns" not in rendered
        assert all(
            list(bar) == ["time", "open", "high", "low", "close", "volume", "complete"]
            for bar in rendered["bars"]
        )
    if fields.get("timeframe") == "1d":
        assert (message.columns.last_complete if request.packed else message.bars[-1].complete) is False


async def test_rendered_json_refuses_what_get_history_refuses(
    market_store: MarketStore, callers: TestCallers
) -> None:
    handlers = _handlers(market_store)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetHistoryJson(
                pb.GetHistoryRequest(symbol="EURUSD", timeframe="5m"), metadata=callers.metadata()
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == ["timeframe"]


async def test_history_replies_are_kept_until_the_symbols_bars_change(
    empty_market_store: MarketStore, callers: TestCallers
) -> None:
    """GetHistory and its REST JSON, each computed once per version of the symbol's bars, however
    many ask (at once too); a new bar is another version. A store of its own: the new bar would change
    what later tests read of EURUSD."""
    import_sample(empty_market_store.engine, "EURUSD")
    windows = BarWindows(empty_market_store.engine, BarCache(100_000))
    handlers = MarketDataHandlers(empty_market_store, windows, reply_cache_bytes=64 * 1024 * 1024)
    request = pb.GetHistoryRequest(symbol="EURUSD", timeframe="1h", limit=50, packed=True)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)

        async def history(r: pb.GetHistoryRequest = request) -> pb.GetHistoryResponse:
            reply: pb.GetHistoryResponse = await stub.GetHistory(r, metadata=callers.metadata())
            return reply

        async def rest_json(r: pb.GetHistoryRequest = request) -> dict[str, Any]:
            body = await stub.GetHistoryJson(r, metadata=callers.metadata())
            return dict(json.loads(body.data))

        first = await history()
        assert await history() == first and handlers.replies.computations == 1
        rendered = await rest_json()
        assert await rest_json() == rendered and handlers.replies.computations == 2  # its own reply
        assert rendered == json_format.MessageToDict(first, always_print_fields_with_no_presence=True)
        shorter = await history(pb.GetHistoryRequest(symbol="eurusd", timeframe="1h", limit=49, packed=True))
        assert list(shorter.columns.time_seconds) == list(first.columns.time_seconds)[1:]
        assert handlers.replies.computations == 3  # another window is another reply
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await history(pb.GetHistoryRequest(symbol="EURUSD", timeframe="5m"))
        assert violated_fields(refused.value) == ["timeframe"] and len(handlers.replies) == 3  # not kept

        later = store_next_bar(empty_market_store, windows, "EURUSD", 1.5)
        assert later > first.columns.time_seconds[-1]
        assert await history() == first  # unseen until the engine learns of the new bar
        windows.forget("EURUSD")
        replies = await asyncio.gather(history(), history(), history())
        assert handlers.replies.computations == 5  # three callers, one computation
        assert all(r == replies[0] for r in replies)
        assert replies[0].columns.time_seconds[-1] == later and replies[0].columns.close[-1] == 1.5
        assert (await rest_json())["columns"]["timeSeconds"][-1] == str(later)


async def test_no_history_is_kept_without_the_bar_cache(
    market_store: MarketStore, callers: TestCallers
) -> None:
    import_sample(market_store.engine, "EURUSD")
    handlers = MarketDataHandlers(
        market_store, BarWindows(market_store.engine, BarCache(0)), reply_cache_bytes=64 * 1024 * 1024
    )
    request = pb.GetHistoryRequest(symbol="EURUSD", limit=20, packed=True)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        first = await stub.GetHistory(request, metadata=callers.metadata())
        assert await stub.GetHistory(request, metadata=callers.metadata()) == first
    assert len(first.columns.close) == 20 and len(handlers.replies) == 0


async def test_imports_are_audited_with_their_admin_and_outcome(
    empty_market_store: MarketStore, callers: TestCallers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOG)
    handlers = MarketDataHandlers(empty_market_store, BarWindows(empty_market_store.engine))
    store_synthetic(empty_market_store.engine, "AAA", "1h", 3600, 5, start=1_599_955_200)
    csv = "time,open,high,low,close,volume\n1599973200,1.0,2.0,0.5,1.5,7\n1599976800,1.5,2.5,1.0,2.0,3\n"
    request = pb.ImportBarsRequest(csv_content=csv, symbol="aaa", timeframe="1h")

    await import_as_admin(handlers, callers, pb.ImportBarsRequest(sample="EURUSD", dry_run=True), "admin-3")
    await import_as_admin(handlers, callers, request, "admin-3")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        bad = pb.ImportBarsRequest(csv_content="time,open\nnot a time,1\n", symbol="AAA", timeframe="1h")
        await import_as_admin(handlers, callers, bad, "admin-4")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as user:  # refused before the handler: nothing to audit
        async with serve(
            SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
        ) as channel:
            await pb_grpc.MarketDataServiceStub(channel).ImportBars(request, metadata=callers.metadata())
    assert user.value.code() == grpc.StatusCode.PERMISSION_DENIED

    entries = [r.__dict__ for r in caplog.records if r.name == AUDIT_LOG]
    assert [(e["actor"], e["action"], e["source"], e["outcome"]) for e in entries] == [
        ("admin-3", "import_bars", "EURUSD", "checked"),
        ("admin-3", "import_bars", "csv", "imported"),
        ("admin-4", "import_bars", "csv", "refused"),
    ]
    assert (entries[1]["symbol"], entries[1]["rows_read"], entries[1]["rows_inserted"]) == ("AAA", 2, 2)
    assert entries[2]["reason"] and "csv_content" not in entries[2]  # the CSV itself is not logged


def _csv(times: list[str], close: float = 10.0) -> str:
    return "time,open,high,low,close,volume\n" + "".join(f"{t},10,11,9,{close},100\n" for t in times)


INDEX_INFO = pb.SymbolInfo(
    name="Old index", asset_class=pb.ASSET_CLASS_INDEX, tick_size=0.01, quote_currency="USD", timezone="UTC"
)


async def test_an_import_whose_caller_left_still_drops_what_the_engine_holds(
    empty_market_store: MarketStore,
    callers: TestCallers,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A caller's deadline (or Envoy's route timeout) cancels the handler, not the import in its
    worker thread: the commit lands. The bar cache and the kept replies must go then too; before,
    history went on answering the bars from before the import until a restart."""
    caplog.set_level(logging.INFO, logger=AUDIT_LOG)
    windows = BarWindows(empty_market_store.engine, BarCache(100_000))
    clock = BarClock(empty_market_store.engine)
    handlers = MarketDataHandlers(empty_market_store, windows, clock, reply_cache_bytes=64 * 1024 * 1024)
    times = [str(1_500_001_200 + i * 3600) for i in range(10)]
    entered, resume = threading.Event(), threading.Event()

    def slow_import(*args: Any, **kwargs: Any) -> ImportReport:
        entered.set()
        assert resume.wait(30)
        return import_csv(*args, **kwargs)

    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        admin = callers.metadata(subject="admin-1", roles=("admin",))

        async def closes(packed: bool) -> list[float]:
            request = pb.GetHistoryRequest(symbol="CORR", limit=5, packed=packed)
            reply = await stub.GetHistory(request, metadata=callers.metadata())
            return list(reply.columns.close) if packed else [bar.close for bar in reply.bars]

        first = pb.ImportBarsRequest(csv_content=_csv(times), symbol="CORR", timeframe="1h", info=INDEX_INFO)
        await stub.ImportBars(first, metadata=admin)
        assert await closes(True) == await closes(False) == [10.0] * 5  # read, and kept
        refreshes = clock.refreshes

        monkeypatch.setattr(market_data_handlers, "import_csv", slow_import)
        correction = pb.ImportBarsRequest(csv_content=_csv(times, 10.5), symbol="CORR", timeframe="1h")
        try:
            with pytest.raises(grpc.aio.AioRpcError) as gone:
                await stub.ImportBars(correction, metadata=admin, timeout=0.5)
            assert gone.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and entered.is_set()
        finally:
            resume.set()  # the import goes on and commits
        deadline = time.monotonic() + 10
        while await closes(True) != [10.5] * 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await closes(True) == await closes(False) == [10.5] * 5
    assert clock.refreshes > refreshes
    outcomes = [r.__dict__.get("outcome") for r in caplog.records if r.name == AUDIT_LOG]
    assert outcomes == ["imported", "imported"]


async def test_bars_before_1970_read_back_in_every_form(
    empty_market_store: MarketStore, callers: TestCallers
) -> None:
    """Negative epoch seconds go on the wire as protobuf writes an int64 (ten bytes); the packed
    forms refused them (ValueError: INTERNAL) while the importer had stored them."""
    handlers = MarketDataHandlers(
        empty_market_store, BarWindows(empty_market_store.engine, BarCache(100_000))
    )
    request = pb.ImportBarsRequest(
        csv_content=_csv(["1969-12-30", "1969-12-31", "1970-01-01", "1970-01-02"]),
        symbol="OLD",
        timeframe="1d",
        info=INDEX_INFO,
    )
    assert (await import_as_admin(handlers, callers, request)).rows_inserted == 4
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        plain = await stub.GetHistory(pb.GetHistoryRequest(symbol="OLD"), metadata=callers.metadata())
        packed_request = pb.GetHistoryRequest(symbol="OLD", packed=True)
        packed = await stub.GetHistory(packed_request, metadata=callers.metadata())
        body = await stub.GetHistoryJson(packed_request, metadata=callers.metadata())
    assert (
        list(packed.columns.time_seconds)
        == [b.time.seconds for b in plain.bars]
        == [-172_800, -86_400, 0, 86_400]
    )
    assert json.loads(body.data) == json_format.MessageToDict(
        packed, always_print_fields_with_no_presence=True
    )


def test_packed_columns_carry_any_int64_time() -> None:
    """Widths mixed in one column (the per-value path of the varint writer), negatives included,
    written byte for byte as protobuf writes them."""
    times = [-(2**62), -86_400, -1, 0, 1, 127, 128, 86_400, 1_500_000_000, MAX_TIME, 2**62]
    assert packed_varints(1, times) == pb.BarColumns(time_seconds=times).SerializeToString()
    assert packed_varints(1, times[:2]) == pb.BarColumns(time_seconds=times[:2]).SerializeToString()
    bars = Bars.from_columns(times, *([[1.0] * len(times)] * 5))
    assert list(bar_columns(bars).time_seconds) == times


@pytest.mark.parametrize(
    "fields",
    [
        {"start": "99999999999999999999"},  # past BIGINT: SQLite's driver overflowed (INTERNAL)
        {"end": "99999999999999999999"},
        {"end": "10000-01-01T00:00:00Z"},
        {"start": "²"},
        {"page_token": base64.urlsafe_b64encode(b'{"s":"EURUSD","t":"1h","b":Infinity}').decode()},
    ],
)
async def test_history_refuses_windows_and_tokens_out_of_range(
    market_store: MarketStore, callers: TestCallers, fields: dict[str, str]
) -> None:
    import_sample(market_store.engine, "EURUSD")
    # No bar cache: every window goes to the store, as the overflowing one did.
    handlers = MarketDataHandlers(market_store, BarWindows(market_store.engine, BarCache(0)))
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.MarketDataServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetHistory(
                pb.GetHistoryRequest(symbol="EURUSD", **fields), metadata=callers.metadata()
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == list(fields)


def _info(**changes: Any) -> pb.SymbolInfo:
    info = pb.SymbolInfo()
    info.CopyFrom(INDEX_INFO)
    for name, value in changes.items():
        setattr(info, name, value)
    return info


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"csv_content": _csv(["2020-01-01"]), "info": _info(tick_size=float("inf"))}, "info.tick_size"),
        ({"csv_content": _csv([str(86_400 * 10**12)])}, "csv_content"),  # past year 9999
        ({"csv_content": _csv([str(86_400 * 10**15)])}, "csv_content"),  # past BIGINT
        ({"csv_content": _csv(["2020-01-01", "2020-01-02," + "1" * 200_000])}, "csv_content"),  # csv.Error
    ],
)
async def test_imports_refuse_what_could_not_be_stored_or_served(
    empty_market_store: MarketStore, callers: TestCallers, request_fields: dict[str, Any], field: str
) -> None:
    handlers = MarketDataHandlers(empty_market_store, BarWindows(empty_market_store.engine))
    request = pb.ImportBarsRequest(symbol="NEW", timeframe="1d", **{"info": INDEX_INFO, **request_fields})
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_as_admin(handlers, callers, request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]
    with empty_market_store.engine.connect() as conn:
        assert repo.list_symbols(conn) == []  # nothing half-written


class FailingFeed:
    """A market feed whose readers fail at once (a database blip)."""

    async def bars(
        self, symbol: str, timeframe: Timeframe, after: int | None = None
    ) -> AsyncIterator[FeedBar]:
        await asyncio.sleep(0)
        raise ConnectionError("database blip")
        yield  # an async generator


@pytest.mark.parametrize(
    ("symbols", "timeframe", "code", "field"),
    [
        # GOOG is stored daily: its reader failed, the call stayed open and silent.
        (["GOOG"], "1h", grpc.StatusCode.INVALID_ARGUMENT, "timeframe"),
        (["GOOG"], "", grpc.StatusCode.UNAVAILABLE, ""),  # the feed fails: the consumer reconnects
    ],
)
async def test_stream_bars_ends_with_an_error_the_consumer_sees(
    market_store: MarketStore,
    callers: TestCallers,
    symbols: list[str],
    timeframe: str,
    code: grpc.StatusCode,
    field: str,
) -> None:
    import_sample(market_store.engine, "GOOG")
    hub = BarHub(FailingFeed())
    handlers = MarketDataHandlers(market_store, BarWindows(market_store.engine), bar_hub=hub)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_MarketDataServiceServicer_to_server(handlers, server), callers
    ) as channel:
        call = pb_grpc.MarketDataServiceStub(channel).StreamBars(
            pb.StreamBarsRequest(symbols=symbols, timeframe=timeframe),
            metadata=callers.metadata(roles=("service",)),
        )
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await asyncio.wait_for(call.read(), 5)
    await hub.close()
    assert ended.value.code() == code
    if field:
        assert violated_fields(ended.value) == [field]


def test_every_symbol_at_a_timeframe_leaves_out_those_stored_coarser() -> None:
    stored = [("EURUSD", "1h"), ("GOOG", "1d")]
    hour, day = parse_timeframe("1h"), parse_timeframe("1d")
    assert followed_streams(stored, set(), hour) == [("EURUSD", hour)]
    assert followed_streams(stored, set(), day) == [("EURUSD", day), ("GOOG", day)]
    assert followed_streams(stored, set(), None) == [("EURUSD", hour), ("GOOG", day)]
    with pytest.raises(InvalidArgument) as refused:
        followed_streams([("GOOG", "1d")], set(), hour)  # none left: the timeframe is wrong
    assert [v.field for v in refused.value.violations] == ["timeframe"]
    with pytest.raises(InvalidArgument) as unknown:
        followed_streams(stored, {"ACME"}, None)
    assert [v.field for v in unknown.value.violations] == ["symbols"]
