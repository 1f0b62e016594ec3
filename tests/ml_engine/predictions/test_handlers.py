"""PredictionService handlers: request checks and the translation to the trading.ml.v1 protos."""

from __future__ import annotations

import asyncio

import pytest

from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.feeds.replay import ReplayFeed
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore, predictions
from ml_engine.predictions.explain import XgbExplainer
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.handlers import PredictionHandlers
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.predictions.scoring import Scorer
from ml_engine.predictions.streams import StreamHub
from ml_engine.shared.database import MarketStore
from service_runtime.errors import InvalidArgument
from tests.ml_engine.predictions.support import MODEL_REPOSITORY, manifest
from trading.ml.v1 import prediction_pb2 as ml_pb
from trading.ml.v1 import prediction_service_pb2 as pb


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def handlers(
    store: MarketStore, registry: ModelRegistry
) -> tuple[PredictionHandlers, PredictionRecorder, Scorer]:
    import_sample(store.engine, "EURUSD")
    with store.engine.begin() as conn:
        conn.execute(predictions.delete())
    windows = BarWindows(store.engine)
    recorder = PredictionRecorder(PredictionStore(store.engine))
    forecaster = Forecaster(windows, registry, manifest(), recorder, XgbExplainer(MODEL_REPOSITORY))
    hub = StreamHub(forecaster, ReplayFeed(windows, speed=1e9, history=3, loop=False, sleep=no_wait))
    scorer = Scorer(windows, manifest())
    return PredictionHandlers(forecaster, hub, scorer), recorder, scorer


async def test_request_checks_name_the_field(market_store: MarketStore, registry: ModelRegistry) -> None:
    h, recorder, _ = handlers(market_store, registry)
    for request, field in (
        (pb.PredictRequest(symbol="", horizon="all"), "symbol"),
        (pb.PredictRequest(symbol="EURUSD", horizon="weekly"), "horizon"),
    ):
        with pytest.raises(InvalidArgument) as error:
            await h.Predict(request, None)  # type: ignore[arg-type]
        assert error.value.violations[0].field == field
    with pytest.raises(InvalidArgument) as error:
        await h.GetSignals(pb.GetSignalsRequest(symbol="EURUSD", timeframe="3m"), None)  # type: ignore[arg-type]
    assert error.value.violations[0].field == "timeframe"
    recorder.close()


async def test_predict_signal_stream_and_scores_protos(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    h, recorder, scorer = handlers(market_store, registry)
    response = await h.Predict(pb.PredictRequest(symbol="eurusd"), None)  # type: ignore[arg-type]
    assert response.symbol == "EURUSD"
    assert [p.horizon for p in response.predictions] == ["intraday", "swing", "position"]
    assert response.skipped[0].startswith("scalping: scalping needs 5m bars of EURUSD")
    p = response.predictions[0]
    assert (p.timeframe, p.lookahead_bars, p.take_profit_atr, p.stop_loss_atr) == ("1h", 8, 1.5, 1.0)
    assert p.predicted_low <= p.predicted_high and p.range_source in ("models", "baseline")
    assert p.models and p.models[0].version and p.prediction_id and p.as_of.seconds > 0
    assert 0 <= p.tp_probability <= 1 and 0 <= p.short_tp_probability <= 1

    signal = (await h.GetSignals(pb.GetSignalsRequest(symbol="EURUSD"), None)).signal  # type: ignore[arg-type]
    assert signal.timeframe == "1h" and signal.horizon == "intraday"
    assert signal.action in (ml_pb.SIGNAL_ACTION_BUY, ml_pb.SIGNAL_ACTION_SELL, ml_pb.SIGNAL_ACTION_HOLD)
    assert len(signal.explanation) == 5 and signal.summary and signal.entry == p.close

    stream = h.StreamPredictions(pb.StreamPredictionsRequest(symbol="EURUSD", timeframe="1h"), None)  # type: ignore[arg-type]
    messages = [m async for m in stream]
    assert [m.sequence for m in messages] == [1, 2, 3]
    assert messages[-1].bar_time == p.as_of and messages[-1].prediction.as_of == p.as_of
    assert messages[-1].published_at.seconds > 0 and messages[-1].signal.horizon == "intraday"

    # Ask again as of an older bar, so the scorer has something whose horizon has passed.
    old = pb.PredictRequest(symbol="EURUSD", horizon="intraday")
    old.as_of.FromSeconds(p.as_of.seconds - 50 * 3600)
    await h.Predict(old, None)  # type: ignore[arg-type]
    recorder.flush()
    await asyncio.to_thread(scorer.score_once)
    scores = await h.GetPredictionScores(pb.GetPredictionScoresRequest(horizon="intraday"), None)  # type: ignore[arg-type]
    assert len(scores.scores) == 1
    s = scores.scores[0]
    assert (s.model, s.symbol, s.horizon, s.realized) == ("intraday_ensemble", "EURUSD", "intraday", 1)
    assert s.recorded >= 2  # the latest bar (stream, Predict, signal) and the older one
    assert s.card_coverage == manifest()["intraday"].heldout_metrics.get("coverage", 0.0)
    recorder.close()
