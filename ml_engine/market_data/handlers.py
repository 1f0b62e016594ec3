"""MarketDataService handlers: translate requests into bar windows and imports, and back.

History replies (GetHistory, and GetHistoryJson behind REST) are kept (`replies`,
ML_HISTORY_CACHE_MIB) until the stored bars of their symbol change: a chart that many users open is
read and written out once per bar, its JSON included. Without the bar cache nothing here follows
the store, so nothing is kept.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.api import httpbody_pb2
from google.protobuf.message import Message

from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_stream import BarHub, BarStream
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as repo
from ml_engine.market_data.domain import page_tokens
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.symbols import SymbolInfo, normalize_symbol
from ml_engine.market_data.domain.timeframes import Timeframe, parse_timeframe
from ml_engine.market_data.domain.times import parse_request_time
from ml_engine.market_data.importing.csv_rows import CsvColumns
from ml_engine.market_data.importing.importer import ImportReport, ImportTarget, import_csv, import_sample
from ml_engine.shared.audit import AuditRecord, audited
from ml_engine.shared.database import MarketStore
from ml_engine.shared.proto_json import bar_times_json, render_json
from ml_engine.shared.proto_mapping import check_limit, packed_doubles, packed_varints
from ml_engine.shared.run_to_end import RunToEnd
from ml_engine.shared.stamped_cache import StampedCache
from service_runtime.caller import current_caller
from service_runtime.errors import DomainError, FailedPrecondition, InvalidArgument
from service_runtime.timestamps import to_timestamp
from trading.market.v1 import market_data_service_pb2 as pb
from trading.market.v1 import market_data_service_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

MAX_LIMIT = 5000
# History replies kept at most, whatever their size (the byte bound usually binds first).
HISTORY_REPLY_ENTRIES = 1024
Reply = TypeVar("Reply", bound=Message)
MAX_CSV_BYTES = 4 * 1024 * 1024

ASSET_CLASS_NAMES = {
    pb.ASSET_CLASS_FX: "fx",
    pb.ASSET_CLASS_EQUITY: "equity",
    pb.ASSET_CLASS_CRYPTO: "crypto",
    pb.ASSET_CLASS_COMMODITY: "commodity",
    pb.ASSET_CLASS_INDEX: "index",
}
ASSET_CLASS_VALUES = {name: value for value, name in ASSET_CLASS_NAMES.items()}


def bars_to_proto(bars: Bars) -> list[pb.Bar]:
    last = len(bars) - 1
    return [
        pb.Bar(
            time=to_timestamp(int(bars.times[i])),
            open=float(bars.open[i]),
            high=float(bars.high[i]),
            low=float(bars.low[i]),
            close=float(bars.close[i]),
            volume=float(bars.volume[i]),
            complete=bars.last_complete or i != last,
        )
        for i in range(len(bars))
    ]


def bars_json(bars: Bars) -> list[dict[str, Any]]:
    """The deprecated Bar per bar form as JSON objects, straight from the numpy columns."""
    complete = [True] * len(bars)
    if len(bars) and not bars.last_complete:
        complete[-1] = False
    columns = (bars.open, bars.high, bars.low, bars.close, bars.volume)
    return [
        {"time": t, "open": o, "high": h, "low": lo, "close": c, "volume": v, "complete": done}
        for t, o, h, lo, c, v, done in zip(
            bar_times_json(bars.times), *(column.tolist() for column in columns), complete, strict=True
        )
    ]


_COLUMN_FIELDS = {f.name: f.number for f in pb.BarColumns.DESCRIPTOR.fields}
# BarColumns' series by JSON name, and the Bars column each comes from.
_COLUMN_JSON_NAMES = {"timeSeconds": "times"} | {
    name: name for name in ("open", "high", "low", "close", "volume")
}


def bar_columns(bars: Bars) -> pb.BarColumns:
    """The packed form: one array per field, built from the numpy columns in one pass each."""
    columns = pb.BarColumns(last_complete=bars.last_complete)
    wire = packed_varints(_COLUMN_FIELDS["time_seconds"], bars.times) + b"".join(
        packed_doubles(_COLUMN_FIELDS[name], getattr(bars, name))
        for name in ("open", "high", "low", "close", "volume")
    )
    columns.MergeFromString(wire)
    return columns


def symbol_info_to_proto(info: SymbolInfo) -> pb.SymbolInfo:
    return pb.SymbolInfo(
        symbol=info.symbol,
        name=info.name,
        asset_class=ASSET_CLASS_VALUES[info.asset_class],
        tick_size=info.tick_size,
        quote_currency=info.quote_currency,
        timezone=info.timezone,
    )


def resume_points(request: pb.StreamBarsRequest) -> dict[str, int]:
    """StreamBars' per-symbol resume points (symbol -> epoch seconds)."""
    return {
        normalize_symbol(symbol, "resume_after"): after.ToSeconds()
        for symbol, after in request.resume_after.items()
    }


def _log_unattended_failure(work: asyncio.Task[ImportReport]) -> None:
    """An import whose caller had gone away failed: no interceptor is left to log it."""
    if work.cancelled() or work.exception() is None:
        return
    error = work.exception()
    if isinstance(error, DomainError):
        return  # a refusal: the audit log has it
    log.error("import_bars failed after its caller left", exc_info=error)


def followed_streams(
    stored: list[tuple[str, str]], wanted: set[str], timeframe: Timeframe | None
) -> list[tuple[str, Timeframe]]:
    """The (symbol, timeframe) streams of a StreamBars request, from every stored (symbol, stored
    timeframe). A symbol named in `wanted` whose bars cannot make `timeframe` is INVALID_ARGUMENT on
    `timeframe`; with no symbol named (every symbol), such symbols are left out, and only when
    that leaves none is the timeframe refused."""
    bases = {symbol: parse_timeframe(base) for symbol, base in stored if not wanted or symbol in wanted}
    if missing := wanted - bases.keys():
        raise InvalidArgument.field("symbols", f"no stored bars for {', '.join(sorted(missing))}")
    if timeframe is None:
        return list(bases.items())
    unfit = {symbol: base for symbol, base in bases.items() if not base.divides(timeframe)}
    if unfit and (wanted or len(unfit) == len(bases)):
        stored_at = ", ".join(f"{symbol} is stored at {base.name}" for symbol, base in sorted(unfit.items()))
        raise InvalidArgument.field(
            "timeframe", f"{timeframe.name} cannot be built from coarser bars ({stored_at})"
        )
    return [(symbol, timeframe) for symbol in bases if symbol not in unfit]


class MarketDataHandlers(pb_grpc.MarketDataServiceServicer):
    def __init__(
        self,
        store: MarketStore,
        windows: BarWindows,
        clock: BarClock | None = None,
        bar_hub: BarHub | None = None,
        reply_cache_bytes: int = 0,
    ) -> None:
        self.store = store
        self.windows = windows
        # (RPC, symbol, the request's other fields) -> its reply, stamped with the symbol's data
        # version (BarWindows.data_version).
        self.replies: StampedCache[Message] = StampedCache(
            HISTORY_REPLY_ENTRIES if reply_cache_bytes > 0 else 0,
            max_bytes=reply_cache_bytes,
            size_of=lambda reply: reply.ByteSize(),
        )
        # Readers of the market feed the prediction streams read: StreamBars publishes its bar events.
        self.bar_hub = bar_hub
        # Told of this engine's own imports at once (latest-bar predictions depend on the last bar).
        self.clock = clock
        # Imports run to their end, whether or not their callers still wait.
        self._imports = RunToEnd()

    async def ListSymbols(
        self, request: pb.ListSymbolsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSymbolsResponse:
        def read() -> list[repo.SymbolStats]:
            with self.store.engine.connect() as conn:
                return repo.list_symbols(conn)

        summaries = []
        for s in await asyncio.to_thread(read):
            summary = pb.SymbolSummary(
                info=symbol_info_to_proto(s.stored.info),
                base_timeframe=s.stored.base_timeframe,
                bar_count=s.bar_count,
            )
            if s.first_time is not None and s.last_time is not None:
                summary.first_bar.CopyFrom(to_timestamp(s.first_time))
                summary.last_bar.CopyFrom(to_timestamp(s.last_time))
            summaries.append(summary)
        return pb.ListSymbolsResponse(symbols=summaries)

    async def GetHistory(
        self, request: pb.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetHistoryResponse:
        return await self._kept("GetHistory", request, self._history_message)

    async def GetHistoryJson(
        self, request: pb.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        """GetHistory's answer as the REST JSON, the packed columns written from the numpy arrays."""
        return await self._kept("GetHistoryJson", request, self._history_json)

    async def _kept(
        self,
        rpc: str,
        request: pb.GetHistoryRequest,
        compute: Callable[[pb.GetHistoryRequest], Awaitable[Reply]],
    ) -> Reply:
        """The reply kept for the request while the symbol's bars are unchanged, else computed."""
        symbol = normalize_symbol(request.symbol)
        version = self.windows.data_version(symbol)
        if version is None:
            return await compute(request)
        fields = (
            request.timeframe,
            request.limit,
            request.start,
            request.end,
            request.page_token,
            request.packed,
        )
        reply = await self.replies.get((rpc, symbol, *fields), version, lambda: compute(request))
        return reply  # type: ignore[return-value]  # the key names the RPC, so the reply type

    async def _history_message(self, request: pb.GetHistoryRequest) -> pb.GetHistoryResponse:
        response, bars = await self._history(request)
        if request.packed:
            response.columns.CopyFrom(bar_columns(bars))
        else:
            response.bars.extend(bars_to_proto(bars))
        return response

    async def _history_json(self, request: pb.GetHistoryRequest) -> httpbody_pb2.HttpBody:
        response, bars = await self._history(request)
        if request.packed:
            response.columns.last_complete = bars.last_complete
            series = {f"columns.{name}": getattr(bars, attr) for name, attr in _COLUMN_JSON_NAMES.items()}
        else:
            series = {"bars": bars_json(bars)}
        return await asyncio.to_thread(render_json, response, series)

    async def _history(self, request: pb.GetHistoryRequest) -> tuple[pb.GetHistoryResponse, Bars]:
        """The response without its bars (either form), and the bars."""
        limit = check_limit(request.limit, MAX_LIMIT)
        start = parse_request_time(request.start, "start")
        end = parse_request_time(request.end, "end")
        if start is not None and end is not None and end <= start:
            raise InvalidArgument.field("end", "must be after start")
        series = await asyncio.to_thread(self.windows.resolve, request.symbol, request.timeframe)
        if request.page_token:
            before = page_tokens.decode(request.page_token, series.symbol, series.target.name)
            end = before if end is None else min(end, before)
        window = await asyncio.to_thread(self.windows.latest, series, limit, start, end)
        next_token = ""
        if window.has_earlier and len(window.bars):
            next_token = page_tokens.encode(series.symbol, series.target.name, int(window.bars.times[0]))
        response = pb.GetHistoryResponse(
            symbol=series.symbol,
            timeframe=series.target.name,
            base_timeframe=series.base.name,
            next_page_token=next_token,
        )
        return response, window.bars

    async def ImportBars(
        self, request: pb.ImportBarsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportBarsResponse:
        # The import runs to its end in a task of its own: a caller that goes away (its deadline,
        # a disconnect) stops waiting, but a commit that lands still drops what the engine holds
        # of the symbol (otherwise history and indicators served the old bars until a restart).
        report = await self._imports.run(self._import_bars(request), when_abandoned=_log_unattended_failure)
        return pb.ImportBarsResponse(
            symbol=report.symbol,
            timeframe=report.timeframe,
            rows_read=report.rows_read,
            rows_inserted=report.rows_inserted,
            rows_existing=report.rows_existing,
            committed=report.committed,
        )

    async def _import_bars(self, request: pb.ImportBarsRequest) -> ImportReport:
        """The use case: import (audited), then invalidate the engine's copies of the symbol."""
        source = request.WhichOneof("source")
        record: AuditRecord = {
            "actor": current_caller().subject,
            "action": "import_bars",
            "source": request.sample if source == "sample" else "csv",
            "symbol": request.symbol,
            "timeframe": request.timeframe,
            "dry_run": request.dry_run,
        }
        with audited(record):
            report = await self._import(request, source)
            record |= {
                "outcome": "imported" if report.committed else "checked",
                "symbol": report.symbol,
                "timeframe": report.timeframe,
                "rows_read": report.rows_read,
                "rows_inserted": report.rows_inserted,
            }
        if report.committed:
            # Rows may have changed without a new last bar: the cached bars go either way.
            self.windows.forget(report.symbol)
            if self.clock is not None:
                await self.clock.refresh()
        return report

    async def _import(self, request: pb.ImportBarsRequest, source: str | None) -> ImportReport:
        if source == "sample":
            return await asyncio.to_thread(import_sample, self.store.engine, request.sample, request.dry_run)
        if source == "csv_content":
            return await asyncio.to_thread(self._import_csv, request)
        raise InvalidArgument.field("csv_content", "set csv_content (CSV text) or sample")

    def _import_csv(self, request: pb.ImportBarsRequest) -> ImportReport:
        if len(request.csv_content) > MAX_CSV_BYTES:
            raise InvalidArgument.field(
                "csv_content", f"is over {MAX_CSV_BYTES // (1024 * 1024)} MiB; use the console importer"
            )
        symbol = normalize_symbol(request.symbol)
        if not request.timeframe:
            raise InvalidArgument.field("timeframe", "is required with csv_content")
        info = None
        if request.HasField("info"):
            i = request.info
            info = SymbolInfo(
                symbol,
                i.name,
                ASSET_CLASS_NAMES.get(i.asset_class, ""),
                i.tick_size,
                i.quote_currency.upper(),
                i.timezone,
            ).validate()
        c = request.columns
        columns = CsvColumns(c.time, c.open, c.high, c.low, c.close, c.volume)
        target = ImportTarget(symbol, parse_timeframe(request.timeframe), info, request.dry_run)
        return import_csv(self.store.engine, io.StringIO(request.csv_content, newline=""), target, columns)

    def stored_timeframes(self) -> list[tuple[str, str]]:
        """(symbol, stored timeframe) of every symbol with stored bars."""
        with self.store.engine.connect() as conn:
            return [(s.stored.info.symbol, s.stored.base_timeframe) for s in repo.list_symbols(conn)]

    async def StreamBars(
        self, request: pb.StreamBarsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamBarsResponse]:
        if self.bar_hub is None:
            raise FailedPrecondition("this engine runs no market feed")
        wanted = {normalize_symbol(s, "symbols") for s in request.symbols}
        timeframe = parse_timeframe(request.timeframe) if request.timeframe else None
        after = request.after.ToSeconds() if request.HasField("after") else None
        resume_after = resume_points(request)
        stored = await asyncio.to_thread(self.stored_timeframes)
        # Refused here, before any reader starts: a reader's failure reaches the caller only as
        # UNAVAILABLE, which a consumer takes as a reason to reconnect.
        followed = followed_streams(stored, wanted, timeframe)
        streams = [BarStream(symbol, tf, resume_after.get(symbol, after)) for symbol, tf in followed]
        async for bar in self.bar_hub.bars(streams):
            yield pb.StreamBarsResponse(
                symbol=bar.symbol,
                timeframe=bar.timeframe,
                bar=pb.Bar(
                    time=to_timestamp(bar.time),
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    volume=bar.volume,
                    complete=True,
                ),
            )
