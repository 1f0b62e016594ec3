"""IndicatorService handlers: parse the request, read bars with warm-up, compute with TA-Lib.

Replies are kept (`replies`, ML_INDICATOR_CACHE_MIB) until the stored bars of their symbol change:
a chart that many users open, or one user reloads, is computed once per bar, and concurrent
requests for the same reply share one computation. Without the bar cache nothing here follows
the store, so nothing is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

import grpc
import numpy as np

from ml_engine.indicators.domain import CATALOGUE, compute, json_values, max_lookback, parse_indicators
from ml_engine.indicators.domain.catalogue import IndicatorSpec
from ml_engine.indicators.domain.compute import IndicatorSeries
from ml_engine.indicators.domain.request import IndicatorRequest
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.domain.bars import FloatArray, IntArray
from ml_engine.market_data.domain.symbols import normalize_symbol
from ml_engine.market_data.domain.times import parse_request_time
from ml_engine.shared.preserialized import add_service
from ml_engine.shared.proto_mapping import (
    WireParts,
    check_limit,
    message_parts,
    packed_double_parts,
    packed_varints,
    parameter_proto,
)
from ml_engine.shared.stamped_cache import StampedCache
from service_runtime.timestamps import to_timestamp
from trading.market.v1 import indicator_service_pb2 as pb
from trading.market.v1 import indicator_service_pb2_grpc as pb_grpc

# Indicator values are not paged: one call may cover a long series.
MAX_INDICATOR_LIMIT = 100_000
TIME_SECONDS_FIELD = pb.GetIndicatorsResponse.DESCRIPTOR.fields_by_name["time_seconds"].number
PACKED_VALUES_FIELD = pb.IndicatorOutput.DESCRIPTOR.fields_by_name["packed_values"].number
OUTPUTS_FIELD = pb.IndicatorSeries.DESCRIPTOR.fields_by_name["outputs"].number
INDICATORS_FIELD = pb.GetIndicatorsResponse.DESCRIPTOR.fields_by_name["indicators"].number


# Replies kept at most, whatever their size (the byte bound usually binds first).
REPLY_CACHE_ENTRIES = 1024

Reply = pb.GetIndicatorsResponse | bytes


def reply_size(reply: Reply) -> int:
    return len(reply) if isinstance(reply, bytes) else reply.ByteSize()


# Values looked at first for the warm-up: an indicator's lookback is a few dozen bars.
GAP_SCAN_HEAD = 256


def leading_gaps(values: FloatArray) -> int:
    """Leading values that are NaN (the warm-up of the packed form). A short head is scanned
    first, a longer one only while the head is all NaN: scanning 100k values for each of ten
    outputs took 1.5 ms of a GetIndicators call."""
    head = GAP_SCAN_HEAD
    while True:
        gaps = np.isnan(values[:head])
        if not gaps.all():
            return int(np.argmin(gaps))  # the first False: the first defined value
        if head >= len(values):
            return len(values)
        head *= 16


def indicator_info(spec: IndicatorSpec) -> pb.IndicatorInfo:
    return pb.IndicatorInfo(
        name=spec.name,
        description=spec.description,
        parameters=[parameter_proto(p) for p in spec.params],
        outputs=list(spec.outputs),
        talib_function=", ".join(spec.talib_functions),
    )


class IndicatorHandlers(pb_grpc.IndicatorServiceServicer):
    def __init__(self, windows: BarWindows, reply_cache_bytes: int = 0) -> None:
        self.windows = windows
        # (symbol, timeframe, indicators, limit, end, packed) -> the reply, stamped with the
        # symbol's data version (BarWindows.data_version).
        self.replies: StampedCache[Reply] = StampedCache(
            REPLY_CACHE_ENTRIES if reply_cache_bytes > 0 else 0,
            max_bytes=reply_cache_bytes,
            size_of=reply_size,
        )
        self._catalogue = pb.ListIndicatorsResponse(
            indicators=[indicator_info(s) for s in CATALOGUE.values()]
        )

    async def ListIndicators(
        self, request: pb.ListIndicatorsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListIndicatorsResponse:
        return self._catalogue

    async def GetIndicators(  # type: ignore[override]  # the packed form answers wire bytes
        self, request: pb.GetIndicatorsRequest, context: grpc.aio.ServicerContext
    ) -> Reply:
        wanted = parse_indicators(list(request.indicators))
        limit = check_limit(request.limit, MAX_INDICATOR_LIMIT)
        end = parse_request_time(request.end, "end")
        symbol = normalize_symbol(request.symbol)

        def compute_reply() -> Awaitable[Reply]:
            # One worker-thread hop for the whole reply: a hop per step cost 0.3-0.5 ms each, more
            # than the cached steps themselves.
            return asyncio.to_thread(self._reply, request, wanted, limit, end)

        version = self.windows.data_version(symbol)
        if version is None:
            return await compute_reply()
        key = (symbol, request.timeframe, wanted, limit, end, request.packed)
        return await self.replies.get(key, version, compute_reply)

    def _reply(
        self,
        request: pb.GetIndicatorsRequest,
        wanted: tuple[IndicatorRequest, ...],
        limit: int,
        end: int | None,
    ) -> Reply:
        series = self.windows.resolve(request.symbol, request.timeframe)
        warmup = max_lookback(wanted)
        # Read the warm-up bars too, so the first returned values exist whenever the data allows.
        bars = self.windows.latest(series, limit + warmup, None, end).bars
        results = compute(bars, wanted)
        first = max(0, len(bars) - limit)
        response = pb.GetIndicatorsResponse(
            symbol=series.symbol, timeframe=series.target.name, bars_used=len(bars), warmup_bars=warmup
        )
        if request.packed:
            return packed_response(response, bars.times[first:], results, first)
        response.times.extend(to_timestamp(int(t)) for t in bars.times[first:])
        for result in results:
            item = series_proto(response.indicators.add(), result)
            for output_name, values in result.outputs.items():
                item.outputs.add(name=output_name).values.extend(json_values(values[first:]))
        return response


def series_proto(item: pb.IndicatorSeries, result: IndicatorSeries) -> pb.IndicatorSeries:
    """`item` with what describes `result` (key, name, parameters, warm-up), not its values."""
    item.key, item.name, item.warmup_bars = result.key, result.name, result.warmup_bars
    for name, value in result.params.items():
        item.params[name] = float(value)
    return item


def packed_response(
    head: pb.GetIndicatorsResponse, times: IntArray, results: Sequence[IndicatorSeries], first: int
) -> bytes:
    """The packed GetIndicatorsResponse in wire form, its fields in field-number order as a
    serialised message has them (`head`'s fields around the indicators, the times last), each
    output's values and the times written from their numpy arrays, joined once (no message holds
    the numbers)."""
    names = pb.GetIndicatorsResponse(symbol=head.symbol, timeframe=head.timeframe)
    counts = pb.GetIndicatorsResponse(bars_used=head.bars_used, warmup_bars=head.warmup_bars)
    parts: WireParts = [names.SerializeToString()]
    for result in results:
        item: WireParts = [series_proto(pb.IndicatorSeries(), result).SerializeToString()]
        for output_name, values in result.outputs.items():
            shown = values[first:]
            lead = leading_gaps(shown)
            output = pb.IndicatorOutput(name=output_name, warmup=lead).SerializeToString()
            item += message_parts(
                OUTPUTS_FIELD, [output, *packed_double_parts(PACKED_VALUES_FIELD, shown[lead:])]
            )
        parts += message_parts(INDICATORS_FIELD, item)
    parts += [counts.SerializeToString(), packed_varints(TIME_SECONDS_FIELD, times)]
    return b"".join(parts)


def add_indicator_service(handlers: IndicatorHandlers, server: grpc.aio.Server) -> None:
    """The generated registration, except that GetIndicators may answer wire bytes."""
    add_service(pb, "IndicatorService", handlers, server, preserialized={"GetIndicators"})
