"""Predictions, signals, models and scores through Envoy (REST, gRPC-Web) and on the ML port (gRPC).

The stack serves the committed model repository on the bundled EURUSD (1h) and GOOG (1d) samples.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import httpx
import pandas as pd
from backtesting.test import EURUSD

from ml_engine.predictions.domain.features import FEATURE_NAMES
from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, ML_PORT, bearer, claims
from tests.e2e import grpc_web
from tools.supervisor import Stack
from trading.ml.v1 import model_service_pb2 as ms_pb
from trading.ml.v1 import model_service_pb2_grpc as ms_grpc
from trading.ml.v1 import prediction_service_pb2 as ps_pb
from trading.ml.v1 import prediction_service_pb2_grpc as ps_grpc

LAST_EURUSD_BAR = pd.Timestamp(EURUSD.index[-1], tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def get(path: str, token: str, **params: str) -> httpx.Response:
    return httpx.get(f"{EDGE}{path}", params=params, headers=bearer(token), timeout=30)


def test_predict_all_horizons_for_eurusd(stack: Stack, token: str) -> None:
    reply = get("/api/predict/EURUSD", token, horizon="all")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    by_horizon = {p["horizon"]: p for p in body["predictions"]}
    assert set(by_horizon) == {"intraday", "swing", "position"}
    # The sample has no 5m bars: scalping is skipped, saying what to import.
    assert len(body["skipped"]) == 1 and body["skipped"][0].startswith("scalping")
    assert "5m" in body["skipped"][0] and "import" in body["skipped"][0]
    intraday = by_horizon["intraday"]
    assert intraday["timeframe"] == "1h" and intraday["lookaheadBars"] == 8
    assert intraday["asOf"] == LAST_EURUSD_BAR
    assert intraday["close"] == EURUSD.Close.iloc[-1]
    for p in body["predictions"]:
        assert p["predictedHigh"] > p["predictedLow"]
        assert abs(p["predictedHigh"] / p["close"] - 1 - p["predictedHighPct"] / 100) < 1e-9
        assert 0 < p["tpProbability"] < 1 and 0 < p["shortTpProbability"] < 1
        assert p["models"] and p["predictionId"] and p["inferenceMs"] > 0
        assert p["rangeSource"] in ("models", "baseline")
    # The ensembles the training chose: intraday's models beat the ATR baseline; position's do not.
    assert intraday["rangeSource"] == "models"
    assert {m["name"] for m in intraday["models"]} >= {"intraday_xgb_range_high", "intraday_gru"}
    assert all(
        m["version"] == "2" and m["executionProvider"] == "CPUExecutionProvider"
        for m in intraday["models"]
        if m["name"] != "baseline_atr"
    )
    assert by_horizon["position"]["rangeSource"] == "baseline"
    # The calibrated 80% range (the default): around the medians, with its held-out coverage.
    for p in body["predictions"]:
        interval = p["interval"]
        assert interval["nominalCoverage"] == 0.8 and abs(interval["heldoutCoverage"] - 0.8) <= 0.03
        assert interval["low"] < p["predictedLow"] < p["predictedHigh"] < interval["high"]
        assert interval["medianHigh"] == p["predictedHigh"] and interval["baselineWidthPct"] > 0


def test_predict_interval_at_a_requested_coverage(stack: Stack, token: str) -> None:
    eighty = get("/api/predict/EURUSD", token, horizon="intraday").json()["predictions"][0]["interval"]
    ninety = get("/api/predict/EURUSD", token, horizon="intraday", coverage="90").json()["predictions"][0]
    assert ninety["interval"]["nominalCoverage"] == 0.9
    assert ninety["interval"]["low"] < eighty["low"] and ninety["interval"]["high"] > eighty["high"]
    refused = get("/api/predict/EURUSD", token, horizon="intraday", coverage="0.85")
    assert refused.status_code == 400 and "coverage" in refused.text


def test_predict_rest_grpc_web_and_direct_grpc_agree(stack: Stack, token: str) -> None:
    rest = get("/api/predict/EURUSD", token, horizon="intraday").json()["predictions"][0]
    web = grpc_web.call(
        f"{EDGE}/trading.ml.v1.PredictionService/Predict",
        ps_pb.PredictRequest(symbol="EURUSD", horizon="intraday"),
        bearer(token),
    )
    assert web.grpc_status == 0, web.grpc_message
    via_web = ps_pb.PredictResponse.FromString(web.messages[0]).predictions[0]
    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        direct = (
            ps_grpc.PredictionServiceStub(channel)
            .Predict(
                ps_pb.PredictRequest(symbol="EURUSD", horizon="intraday"),
                metadata=[("authorization", f"Bearer {token}")],
            )
            .predictions[0]
        )
    # One distinct prediction, however it was asked for: the same id and the same numbers.
    assert rest["predictionId"] == via_web.prediction_id == direct.prediction_id
    assert rest["predictedHigh"] == via_web.predicted_high == direct.predicted_high
    assert rest["tpProbability"] == direct.tp_probability


def test_predict_errors_name_the_problem(stack: Stack, token: str) -> None:
    scalping = get("/api/predict/EURUSD", token, horizon="scalping")
    assert scalping.status_code == 400 and "5m" in scalping.json()["message"]
    assert "import" in scalping.json()["message"]
    bad = get("/api/predict/EURUSD", token, horizon="weekly")
    assert bad.status_code == 400 and bad.json()["message"].startswith("horizon")
    unknown = get("/api/predict/NOPE", token)
    assert unknown.status_code == 404, unknown.text
    anonymous = httpx.get(f"{EDGE}/api/predict/EURUSD", timeout=30)
    assert anonymous.status_code == 401


def test_signals_for_eurusd_hourly(stack: Stack, token: str) -> None:
    reply = get("/api/signals/EURUSD", token, timeframe="1h")
    assert reply.status_code == 200, reply.text
    signal = reply.json()["signal"]
    assert (
        signal["timeframe"] == "1h" and signal["horizon"] == "intraday" and signal["asOf"] == LAST_EURUSD_BAR
    )
    assert signal["action"] in ("SIGNAL_ACTION_BUY", "SIGNAL_ACTION_SELL", "SIGNAL_ACTION_HOLD")
    assert signal["entry"] == EURUSD.Close.iloc[-1]
    if signal["action"] == "SIGNAL_ACTION_BUY":
        assert signal["stopLoss"] < signal["entry"] < signal["takeProfit"]
    elif signal["action"] == "SIGNAL_ACTION_SELL":
        assert signal["takeProfit"] < signal["entry"] < signal["stopLoss"]
    explanation = signal["explanation"]
    assert 1 <= len(explanation) <= 5
    assert all(item["feature"] in FEATURE_NAMES for item in explanation)
    contributions = [abs(item.get("contribution", 0.0)) for item in explanation]
    assert contributions == sorted(contributions, reverse=True)
    assert signal["summary"]


def test_signal_errors(stack: Stack, token: str) -> None:
    five = get("/api/signals/EURUSD", token, timeframe="5m")
    assert five.status_code == 400 and "import" in five.json()["message"]
    bad = get("/api/signals/EURUSD", token, timeframe="2m")
    assert bad.status_code == 400 and bad.json()["message"].startswith("timeframe")


def test_models_list_cards_and_activation(stack: Stack, keys: SigningKeyStore, token: str) -> None:
    listed = get("/api/models", token).json()["models"]
    names = {m["name"] for m in listed}
    assert {"intraday_gru", "intraday_transformer", "intraday_xgb_tp_long", "position_xgb_range_low"} <= names
    assert not any(n.startswith("scalping") for n in names)  # no real 5m data: nothing shipped
    for model in listed:
        active = next(v for v in model["versions"] if v["version"] == model["activeVersion"])
        assert active["state"] == "MODEL_STATE_READY", (model["name"], active)
        assert active["executionProvider"] == "CPUExecutionProvider"
        assert len(active["fileSha256"]) == 64
    card = get("/api/models/swing_gru", token).json()["model"]
    assert card["horizon"] == "swing" and card["cardPath"].endswith("swing_gru/README.md")
    assert card["featureNames"] == list(FEATURE_NAMES)
    assert "beatsBaseline" not in card["versions"][0] or card["versions"][0]["beatsBaseline"] is False
    refused = httpx.post(
        f"{EDGE}/api/models/intraday_gru:activate", json={"version": "1"}, headers=bearer(token), timeout=30
    )
    assert refused.status_code == 403
    admin = keys.sign(claims(sub="admin-1", roles=["admin"]))
    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        stub = ms_grpc.ModelServiceStub(channel)
        done = stub.ActivateModelVersion(
            ms_pb.ActivateModelVersionRequest(name="intraday_gru", version="1"),
            metadata=[("authorization", f"Bearer {admin}")],
        )
        assert done.model.active_version == "1"
        try:
            stub.ActivateModelVersion(
                ms_pb.ActivateModelVersionRequest(name="intraday_gru", version="9"),
                metadata=[("authorization", f"Bearer {admin}")],
            )
            raise AssertionError("activating a missing version succeeded")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "version" in (error.details() or "")


def test_past_predictions_are_recorded_once_and_scored(stack: Stack, token: str) -> None:
    as_of = "2018-01-10T12:00:00Z"
    first = get("/api/predict/EURUSD", token, horizon="intraday", asOf=as_of).json()["predictions"][0]
    again = get("/api/predict/EURUSD", token, horizon="intraday", asOf=as_of).json()["predictions"][0]
    assert first["predictionId"] == again["predictionId"]
    assert first["asOf"] < as_of
    # The lookahead of that bar is in the store: the scorer (every second here) realizes it.
    deadline = time.monotonic() + 30
    score: dict[str, Any] = {}
    while time.monotonic() < deadline:
        scores = (
            get("/api/predictions/scores", token, symbol="EURUSD", horizon="intraday")
            .json()
            .get("scores", [])
        )
        if scores and int(scores[0].get("realized", 0)) >= 1:
            score = scores[0]
            break
        time.sleep(0.5)
    assert score, "the past prediction was never scored"
    assert int(score["recorded"]) >= int(score["realized"]) >= 1
    assert 0 <= score.get("coverage", 0.0) <= 1 and score["maePct"] > 0
    assert 0 < score["cardMaePct"] < 1  # the card's held-out figure, for comparison
    # The recorded 80% interval: nominal vs realized coverage, width vs the ATR baseline's.
    assert score["nominalCoverage"] == 0.8 and int(score["intervalRealized"]) >= 1
    assert 0 <= score.get("intervalCoverage", 0.0) <= 1 and abs(score["cardIntervalCoverage"] - 0.8) <= 0.03
    assert score["intervalWidthPct"] > 0 and score["baselineIntervalWidthPct"] > 0


def test_stats_report_each_model_and_its_provider(stack: Stack, token: str) -> None:
    get("/api/predict/EURUSD", token, horizon="intraday")
    stats = get("/api/stats", token).json()
    models = {m["name"]: m for m in stats["models"]}
    assert stats["modelsLoaded"] == len(models) >= 18
    gru = models["intraday_gru"]
    assert gru["executionProvider"] == "CPUExecutionProvider" and gru["state"] == "READY"
    assert int(gru["requests"]) >= 1 and gru["latencyP50Ms"] > 0 and gru["meanBatchSize"] >= 1
