"""PredictionService handlers through an in-process server: request checks, the translation to the
trading.ml.v1 protos, and the access rules of the contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.feeds.replay import ReplayFeed
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore, predictions
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.signals import TradeCosts
from ml_engine.predictions.explain import XgbExplainer
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.handlers import PredictionHandlers, add_prediction_service
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.predictions.scoring import Scorer
from ml_engine.predictions.streams import StreamHub
from ml_engine.shared.database import MarketStore
from tests.ml_engine.in_process import serve
from tests.ml_engine.predictions.support import MODEL_REPOSITORY, manifest
from tests.support.in_process import TestCallers, error_info, violations
from trading.common.v1 import access_pb2
from trading.ml.v1 import prediction_pb2 as ml_pb
from trading.ml.v1 import prediction_service_pb2 as pb
from trading.ml.v1 import prediction_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Served:
    stub: pb_grpc.PredictionServiceStub
    recorder: PredictionRecorder
    scorer: Scorer


@asynccontextmanager
async def served(store: MarketStore, registry: ModelRegistry, callers: TestCallers) -> AsyncIterator[Served]:
    import_sample(store.engine, "EURUSD")
    with store.engine.begin() as conn:
        conn.execute(predictions.delete())
    windows = BarWindows(store.engine)
    recorder = PredictionRecorder(PredictionStore(store.engine))
    forecaster = Forecaster(
        windows, registry, manifest(), recorder, XgbExplainer(MODEL_REPOSITORY), costs=TradeCosts(1e-4, 1e-4)
    )
    hub = StreamHub(forecaster, ReplayFeed(windows, speed=1e9, history=3, loop=False, sleep=no_wait))
    scorer = Scorer(windows, manifest())
    handlers = PredictionHandlers(forecaster, hub, scorer)
    try:
        async with serve(
            SERVICE, lambda server: add_prediction_service(handlers, server), callers
        ) as channel:
            yield Served(pb_grpc.PredictionServiceStub(channel), recorder, scorer)
    finally:
        recorder.close()


async def test_request_checks_name_the_field(
    empty_market_store: MarketStore, registry: ModelRegistry, callers: TestCallers
) -> None:
    user = callers.metadata(plan="pro")  # every horizon and timeframe is pro's
    async with served(empty_market_store, registry, callers) as s:
        for request, field in (
            (pb.PredictRequest(symbol="", horizon="all"), "symbol"),
            (pb.PredictRequest(symbol="EURUSD", horizon="weekly"), "horizon"),
            (pb.PredictRequest(symbol="EURUSD", coverage=0.7), "coverage"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await s.stub.Predict(request, metadata=user)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert violations(error.value)[0][0] == field
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await s.stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD", timeframe="3m"), metadata=user)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violations(error.value)[0][0] == "timeframe"
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await s.stub.Predict(pb.PredictRequest(symbol="EURUSD"))
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_predict_signal_stream_and_scores_protos(
    empty_market_store: MarketStore, registry: ModelRegistry, callers: TestCallers
) -> None:
    user = callers.metadata(plan="pro")  # every horizon and the stream are pro's
    async with served(empty_market_store, registry, callers) as s:
        response = await s.stub.Predict(pb.PredictRequest(symbol="eurusd"), metadata=user)
        assert response.symbol == "EURUSD"
        assert [p.horizon for p in response.predictions] == ["intraday", "swing", "position"]
        assert response.skipped[0].startswith("scalping: scalping needs 5m bars of EURUSD")
        p = response.predictions[0]
        assert (p.timeframe, p.lookahead_bars, p.take_profit_atr, p.stop_loss_atr) == ("1h", 8, 1.5, 1.0)
        assert p.predicted_low <= p.predicted_high and p.range_source in ("models", "baseline")
        assert p.models and p.models[0].version and p.prediction_id and p.as_of.seconds > 0
        assert 0 <= p.tp_probability <= 1 and 0 <= p.short_tp_probability <= 1
        # The calibrated 80% range (the default) around the medians, and its held-out coverage.
        assert p.HasField("interval") and p.interval.nominal_coverage == 0.8
        assert p.interval.low < p.predicted_low <= p.predicted_high < p.interval.high
        assert (p.interval.median_low, p.interval.median_high) == (p.predicted_low, p.predicted_high)
        assert abs(p.interval.heldout_coverage - 0.8) <= 0.03 and p.interval.baseline_width_pct > 0
        assert abs(p.interval.width_pct - (p.interval.high_pct - p.interval.low_pct)) < 1e-9
        # No adaptive intervals here: the manifest's quantile, and the answer says so.
        assert (
            p.interval.quantile
            == p.interval.shipped_quantile
            == manifest()["intraday"].interval_quantiles["0.8"]
        )
        assert p.interval.live_scores == 0
        wider = await s.stub.Predict(pb.PredictRequest(symbol="EURUSD", coverage=95), metadata=user)
        p95 = wider.predictions[0].interval
        assert p95.nominal_coverage == 0.95 and p95.low < p.interval.low and p95.high > p.interval.high

        signal = (await s.stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD"), metadata=user)).signal
        assert signal.timeframe == "1h" and signal.horizon == "intraday"
        assert signal.action in (ml_pb.SIGNAL_ACTION_BUY, ml_pb.SIGNAL_ACTION_SELL, ml_pb.SIGNAL_ACTION_HOLD)
        assert len(signal.explanation) == 5 and signal.summary and signal.entry == p.close
        assert signal.cost_pct > 0  # the expected value is net of the costs
        if signal.action == ml_pb.SIGNAL_ACTION_HOLD:
            assert signal.expected_value_pct <= 0 or "base rate" in signal.summary
        else:
            assert signal.expected_value_pct > 0

        stream = s.stub.StreamPredictions(
            pb.StreamPredictionsRequest(symbol="EURUSD", timeframe="1h"), metadata=user
        )
        messages = [m async for m in stream]
        assert await stream.code() == grpc.StatusCode.OK
        assert [m.sequence for m in messages] == [1, 2, 3]
        assert messages[-1].bar_time == p.as_of and messages[-1].prediction.as_of == p.as_of
        assert messages[-1].published_at.seconds > 0 and messages[-1].signal.horizon == "intraday"
        # Each message carries its whole bar, as stored (the chart draws the candle from it).
        windows = BarWindows(empty_market_store.engine)
        stored = windows.latest(windows.resolve("EURUSD", "1h"), 3).bars
        assert [(m.bar_time.seconds, m.open, m.high, m.low, m.close, m.volume) for m in messages] == [
            (
                int(stored.times[i]),
                float(stored.open[i]),
                float(stored.high[i]),
                float(stored.low[i]),
                float(stored.close[i]),
                float(stored.volume[i]),
            )
            for i in range(3)
        ]
        assert all(m.low <= min(m.open, m.close) <= max(m.open, m.close) <= m.high for m in messages)
        assert any(m.open != m.close for m in messages) and all(m.volume > 0 for m in messages)

        # Ask again as of an older bar, so the scorer has something whose horizon has passed.
        old = pb.PredictRequest(symbol="EURUSD", horizon="intraday")
        old.as_of.FromSeconds(p.as_of.seconds - 50 * 3600)
        await s.stub.Predict(old, metadata=user)
        s.recorder.flush()
        await asyncio.to_thread(s.scorer.score_once)
        scores = await s.stub.GetPredictionScores(
            pb.GetPredictionScoresRequest(horizon="intraday"), metadata=user
        )
        # A filter longer than any name is bad input: SQLite refused the LIKE pattern of 100k
        # characters, which was answered as "database unavailable, please retry later".
        with pytest.raises(grpc.aio.AioRpcError) as too_long:
            await s.stub.GetPredictionScores(
                pb.GetPredictionScoresRequest(model="x" * 100_000), metadata=user
            )
        assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "model" in (
            too_long.value.details() or ""
        )
    assert len(scores.scores) == 1
    score = scores.scores[0]
    assert (score.model, score.symbol, score.horizon, score.realized) == (
        "intraday_ensemble",
        "EURUSD",
        "intraday",
        1,
    )
    assert score.recorded >= 2  # the latest bar (stream, Predict, signal) and the older one
    assert score.card_coverage == manifest()["intraday"].heldout_metrics.get("coverage", 0.0)
    # The recorded 80% interval is scored too, beside the card's held-out coverage and the baseline width.
    assert (score.nominal_coverage, score.interval_realized) == (0.8, 1)
    assert score.interval_coverage in (0.0, 1.0)
    assert score.card_interval_coverage == manifest()["intraday"].heldout_metrics["interval_coverage_0.8"]
    assert score.interval_width_pct > 0 and score.baseline_interval_width_pct > 0


async def refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    return refused.value


async def test_a_free_plan_gets_intraday_and_1h_and_is_refused_the_rest_naming_plan_and_field(
    empty_market_store: MarketStore, registry: ModelRegistry, callers: TestCallers
) -> None:
    free = callers.metadata(subject="free-user", plan="free")
    async with served(empty_market_store, registry, callers) as s:
        intraday = await s.stub.Predict(pb.PredictRequest(symbol="EURUSD", horizon="intraday"), metadata=free)
        assert [p.horizon for p in intraday.predictions] == ["intraday"]
        signal = await s.stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD"), metadata=free)
        assert signal.signal.timeframe == "1h"
        for call, field, shown in (
            (
                s.stub.Predict(pb.PredictRequest(symbol="EURUSD", horizon="swing"), metadata=free),
                "horizon",
                '"swing"',
            ),
            # Left empty: every horizon, the default.
            (
                s.stub.Predict(pb.PredictRequest(symbol="EURUSD"), metadata=free),
                "horizon",
                "left empty (its default)",
            ),
            (
                s.stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD", timeframe="5m"), metadata=free),
                "timeframe",
                '"5m"',
            ),
        ):
            error = await refusal(call)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert error.details() == f"requires plan pro for {field} {shown} (this token's plan: free)"
            info = error_info(error)
            assert (info.reason, info.domain) == ("PLAN_REQUIRED", "trading")
            assert dict(info.metadata) == {
                "plan": "pro",
                "plans": "pro",
                "field": field,
                "current_plan": "free",
            }
        # The stream is pro's as a whole (its access rule: the edge refuses it too).
        stream = s.stub.StreamPredictions(pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=free)
        error = await refusal(stream.read())
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error.details() == "requires plan pro (this token's plan: free)"
        assert error_info(error).metadata["plan"] == "pro"


async def test_service_tokens_and_admins_pass_every_plan_check(
    empty_market_store: MarketStore, registry: ModelRegistry, callers: TestCallers
) -> None:
    # Business reads the engine with a service token, which carries no plan.
    service = callers.metadata(subject="service:business", roles=("service",), plan="")
    admin = callers.metadata(subject="admin-1", roles=("admin",), plan="free")
    async with served(empty_market_store, registry, callers) as s:
        swing = await s.stub.Predict(pb.PredictRequest(symbol="EURUSD", horizon="swing"), metadata=admin)
        assert [p.horizon for p in swing.predictions] == ["swing"]
        for who in (service, admin):
            stream = s.stub.StreamPredictions(pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=who)
            assert [m.sequence async for m in stream] == [1, 2, 3]
        # GetSignals on 15m: past the plan check (no 15m bars stored: the engine says so, not the plan).
        error = await refusal(
            s.stub.GetSignals(pb.GetSignalsRequest(symbol="EURUSD", timeframe="15m"), metadata=service)
        )
        assert error.code() != grpc.StatusCode.PERMISSION_DENIED, error.details()


def test_predicts_rule_reserves_every_horizon_but_intraday_for_pro() -> None:
    # The proto lists the reserved values (an unknown one stays INVALID_ARGUMENT): kept in step here.
    method = pb.DESCRIPTOR.services_by_name["PredictionService"].methods_by_name["Predict"]
    (limit,) = method.GetOptions().Extensions[access_pb2.access].plan_limits
    assert (limit.field, list(limit.plans)) == ("horizon", ["pro"])
    assert set(limit.plan_values) == {"", "all", *HORIZONS} - {"intraday"}
