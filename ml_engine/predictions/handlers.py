"""PredictionService handlers: check the request, call the application layer, translate to protos."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

import grpc

from ml_engine.market_data.domain.symbols import normalize_symbol
from ml_engine.predictions.domain.combine import HorizonForecast, ModelUse
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR, parse_horizons
from ml_engine.predictions.domain.intervals import DEFAULT_COVERAGE, parse_coverage
from ml_engine.predictions.domain.signals import Action
from ml_engine.predictions.forecaster import Forecaster, SignalResult
from ml_engine.predictions.scoring import Scorer
from ml_engine.predictions.streams import StreamHub, StreamMessage
from ml_engine.shared.preserialized import add_service
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_timestamp
from trading.ml.v1 import prediction_pb2 as ml_pb
from trading.ml.v1 import prediction_service_pb2 as pb
from trading.ml.v1 import prediction_service_pb2_grpc as pb_grpc

M = TypeVar("M")
# Answers kept by the handlers' memos (latest-bar answers repeat until the next bar).
MEMO_SIZE = 256


class ProtoMemo(Generic[M]):
    """The message last built for each key, reused while it is built from the same objects.

    A latest-bar forecast is the same object for every request until the next bar, so its message
    is built once; the messages are never mutated after they are built (gRPC only serialises them).
    """

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[tuple[object, ...], M]] = OrderedDict()

    def get(self, key: Hashable, sources: tuple[object, ...], build: Callable[[], M]) -> M:
        hit = self._items.get(key)
        same = hit is not None and len(hit[0]) == len(sources)
        if hit is not None and same and all(a is b for a, b in zip(hit[0], sources, strict=True)):
            return hit[1]
        message = build()
        self._items[key] = (sources, message)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return message


ACTIONS = {
    Action.BUY: ml_pb.SIGNAL_ACTION_BUY,
    Action.SELL: ml_pb.SIGNAL_ACTION_SELL,
    Action.HOLD: ml_pb.SIGNAL_ACTION_HOLD,
}


def model_use_proto(use: ModelUse) -> ml_pb.ModelUse:
    return ml_pb.ModelUse(
        name=use.name,
        version=use.version,
        target=use.target,
        weight=use.weight,
        execution_provider=use.provider,
    )


def interval_proto(f: HorizonForecast, coverage: float) -> ml_pb.PriceInterval | None:
    """The calibrated interval at `coverage`, in prices; None when the manifest has no calibration."""
    interval = f.interval(coverage)
    if interval is None:
        return None
    return ml_pb.PriceInterval(
        nominal_coverage=interval.coverage,
        low=f.close * (1.0 + interval.low_pct / 100.0),
        high=f.close * (1.0 + interval.high_pct / 100.0),
        low_pct=interval.low_pct,
        high_pct=interval.high_pct,
        median_low=f.predicted_low,
        median_high=f.predicted_high,
        heldout_coverage=interval.heldout_coverage,
        width_pct=interval.high_pct - interval.low_pct,
        baseline_width_pct=interval.baseline_width_pct,
        quantile=interval.quantile,
        shipped_quantile=interval.shipped_quantile,
        live_scores=interval.live_scores,
    )


def request_coverage(value: float) -> float:
    """PredictRequest.coverage checked: INVALID_ARGUMENT naming the field when not offered."""
    try:
        return parse_coverage(value)
    except ValueError as error:
        raise InvalidArgument.field("coverage", str(error)) from None


def horizon_prediction_proto(
    f: HorizonForecast, coverage: float = DEFAULT_COVERAGE
) -> ml_pb.HorizonPrediction:
    return ml_pb.HorizonPrediction(
        horizon=f.horizon.name,
        timeframe=f.horizon.timeframe,
        lookahead_bars=f.horizon.lookahead,
        as_of=to_timestamp(f.as_of),
        close=f.close,
        predicted_high=f.predicted_high,
        predicted_low=f.predicted_low,
        predicted_high_pct=f.predicted_high_pct,
        predicted_low_pct=f.predicted_low_pct,
        tp_probability=f.tp_long,
        take_profit_atr=TAKE_PROFIT_ATR,
        stop_loss_atr=STOP_LOSS_ATR,
        atr=f.atr,
        models=[model_use_proto(u) for u in f.models],
        inference_ms=round(f.inference_ms, 3),
        prediction_id=f.prediction_id,
        short_tp_probability=f.tp_short,
        range_source=f.range_source,
        interval=interval_proto(f, coverage),
    )


def signal_proto(s: SignalResult) -> ml_pb.Signal:
    lv = s.levels
    return ml_pb.Signal(
        action=ACTIONS[s.action],
        timeframe=s.timeframe,
        horizon=s.forecast.horizon.name,
        as_of=to_timestamp(s.forecast.as_of),
        entry=lv.entry,
        take_profit=lv.take_profit,
        stop_loss=lv.stop_loss,
        confidence=s.decision.confidence,
        risk_reward=lv.risk_reward,
        explanation=[
            ml_pb.FeatureContribution(feature=c.feature, value=c.value, contribution=c.contribution)
            for c in s.explanation
        ],
        summary=s.summary,
        models=[model_use_proto(u) for u in s.forecast.models],
        expected_value_pct=s.decision.expected_value_pct,
        cost_pct=s.decision.cost_pct,
    )


def stream_response(m: StreamMessage) -> pb.StreamPredictionsResponse:
    return pb.StreamPredictionsResponse(
        symbol=m.symbol,
        timeframe=m.timeframe,
        sequence=m.sequence,
        bar_time=to_timestamp(m.bar_time),
        close=m.close,
        prediction=horizon_prediction_proto(m.signal.forecast),
        signal=signal_proto(m.signal),
        published_at=to_timestamp(m.published_at),
        open=m.open,
        high=m.high,
        low=m.low,
        volume=m.volume,
    )


def _serialize_stream(m: StreamMessage) -> bytes:
    return stream_response(m).SerializeToString()


def add_prediction_service(handlers: pb_grpc.PredictionServiceServicer, server: Any) -> None:
    """The generated registration, except that StreamPredictions sends the bytes each bar's message
    was serialised to once, for every subscriber, instead of a message per subscriber."""
    add_service(pb, "PredictionService", handlers, server, preserialized={"StreamPredictions"})


class PredictionHandlers(pb_grpc.PredictionServiceServicer):
    def __init__(self, forecaster: Forecaster, hub: StreamHub, scorer: Scorer) -> None:
        self.forecaster = forecaster
        self.hub = hub
        self.scorer = scorer
        self._predict_memo: ProtoMemo[pb.PredictResponse] = ProtoMemo()
        self._signal_memo: ProtoMemo[pb.GetSignalsResponse] = ProtoMemo()
        # Each bar's stream message, serialised once for all its subscribers.
        self._stream_memo: ProtoMemo[bytes] = ProtoMemo()

    async def Predict(
        self, request: pb.PredictRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictResponse:
        normalize_symbol(request.symbol)  # empty or malformed: INVALID_ARGUMENT on `symbol`
        horizons = parse_horizons(request.horizon)
        coverage = request_coverage(request.coverage)
        as_of = request.as_of.seconds if request.HasField("as_of") else None
        forecast = await self.forecaster.predict(request.symbol, horizons, as_of)

        def build() -> pb.PredictResponse:
            return pb.PredictResponse(
                symbol=forecast.symbol,
                predictions=[horizon_prediction_proto(f, coverage) for f in forecast.predictions],
                skipped=forecast.skipped,
            )

        if as_of is not None:
            return build()
        key = (forecast.symbol, tuple(h.name for h in horizons), tuple(forecast.skipped), coverage)
        return self._predict_memo.get(key, tuple(forecast.predictions), build)

    async def GetSignals(
        self, request: pb.GetSignalsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSignalsResponse:
        normalize_symbol(request.symbol)
        result = await self.forecaster.signal(request.symbol, request.timeframe)
        return self._signal_memo.get(
            (result.symbol, result.timeframe),
            (result,),
            lambda: pb.GetSignalsResponse(symbol=result.symbol, signal=signal_proto(result)),
        )

    async def StreamPredictions(
        self, request: pb.StreamPredictionsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:  # bytes: see add_prediction_service
        """Serialised StreamPredictionsResponse messages (registered by `add_prediction_service`,
        whose serializer sends bytes as they are): one serialisation per bar, not per subscriber."""
        normalize_symbol(request.symbol)
        # Raises (bad timeframe, unknown symbol, no data, no model) before the first message.
        after = request.after.seconds if request.HasField("after") else None
        subscription = await self.hub.subscribe(request.symbol, request.timeframe, after)
        try:
            async for m in subscription.messages():
                yield self._stream_memo.get((m.symbol, m.timeframe), (m,), partial(_serialize_stream, m))
        finally:
            subscription.close()

    async def GetPredictionScores(
        self, request: pb.GetPredictionScoresRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPredictionScoresResponse:
        scores = await asyncio.to_thread(
            self.scorer.scores, request.model.strip(), request.symbol, request.horizon
        )
        scored_at = self.scorer.last_pass_at or int(time.time())
        return pb.GetPredictionScoresResponse(
            scores=[
                pb.PredictionScore(
                    model=s.row.model,
                    version=s.row.version,
                    symbol=s.row.symbol,
                    horizon=s.row.horizon,
                    recorded=s.row.recorded,
                    realized=s.row.realized,
                    coverage=s.row.coverage,
                    mae_pct=s.row.mae_pct,
                    tp_hit_rate=s.row.tp_hit_rate,
                    mean_tp_probability=s.row.mean_tp_probability,
                    card_coverage=s.card_coverage,
                    card_mae_pct=s.card_mae_pct,
                    card_tp_hit_rate=s.card_tp_hit_rate,
                    nominal_coverage=s.row.nominal_coverage,
                    interval_coverage=s.row.interval_coverage,
                    interval_realized=s.row.interval_realized,
                    card_interval_coverage=s.card_interval_coverage,
                    interval_width_pct=s.row.interval_width_pct,
                    baseline_interval_width_pct=s.baseline_interval_width_pct,
                )
                for s in scores
            ],
            scored_at=to_timestamp(scored_at),
        )
