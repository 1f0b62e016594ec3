"""Market data and indicators through Envoy (REST and gRPC) and on the ML engine's own port."""

from __future__ import annotations

import grpc
import httpx
import numpy as np
import pandas as pd
import pytest
import talib
from backtesting.test import EURUSD, GOOG

from tests.conftest import EDGE, ENVOY_PORT, ML_PORT, bearer
from tests.e2e import grpc_web
from tools.supervisor import Stack
from trading.market.v1 import backtest_service_pb2 as bt_pb
from trading.market.v1 import indicator_service_pb2 as ind_pb
from trading.market.v1 import indicator_service_pb2_grpc as ind_grpc
from trading.market.v1 import market_data_service_pb2 as md_pb
from trading.market.v1 import market_data_service_pb2_grpc as md_grpc


def utc_seconds(index: pd.DatetimeIndex) -> list[int]:
    return list(index.tz_localize("UTC").as_unit("s").asi8)


def iso(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def test_history_default_is_the_latest_500_bars(stack: Stack, token: str) -> None:
    reply = httpx.get(f"{EDGE}/api/history/EURUSD", headers=bearer(token))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["symbol"] == "EURUSD" and body["timeframe"] == "1h" and body["baseTimeframe"] == "1h"
    bars = body["bars"]
    assert len(bars) == 500
    expected = EURUSD.iloc[-500:]
    assert [b["time"] for b in bars] == [iso(t) for t in utc_seconds(expected.index)]
    assert [b["close"] for b in bars] == expected.Close.tolist()
    assert all(b["complete"] for b in bars)
    assert body["nextPageToken"]


def test_history_pages_back_through_every_bar(stack: Stack, token: str) -> None:
    seen: list[str] = []
    params = {"limit": "5000", "timeframe": "1h"}
    pages = 0
    while True:
        reply = httpx.get(f"{EDGE}/api/history/eurusd", params=params, headers=bearer(token))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        seen = [b["time"] for b in body["bars"]] + seen
        pages += 1
        if not body["nextPageToken"]:
            break
        params = {"limit": "1500", "timeframe": "1h", "page_token": body["nextPageToken"]}
    assert pages == 1  # 5000 bars fit one page of 5000 ...
    smaller = httpx.get(f"{EDGE}/api/history/EURUSD", params={"limit": "1500"}, headers=bearer(token)).json()
    collected = [b["time"] for b in smaller["bars"]]
    token_ = smaller["nextPageToken"]
    while token_:
        page = httpx.get(
            f"{EDGE}/api/history/EURUSD", params={"limit": "1500", "pageToken": token_}, headers=bearer(token)
        ).json()
        collected = [b["time"] for b in page["bars"]] + collected
        token_ = page["nextPageToken"]
    assert collected == seen == [iso(t) for t in utc_seconds(EURUSD.index)]  # ... and 4 pages of 1500


def test_history_resampled_to_4h_with_a_window(stack: Stack, token: str) -> None:
    reply = httpx.get(
        f"{EDGE}/api/history/EURUSD",
        headers=bearer(token),
        params={"timeframe": "4h", "start": "2017-06-01", "end": "2017-07-01", "limit": "5000"},
    )
    assert reply.status_code == 200, reply.text
    bars = reply.json()["bars"]
    utc = EURUSD.tz_localize("UTC")["2017-06-01":"2017-06-30"]
    expected = (
        utc.resample("4h", origin="epoch")
        .agg({"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"})
        .dropna()
    )
    assert [b["time"] for b in bars] == [iso(t) for t in expected.index.as_unit("s").asi8]
    assert [(b["open"], b["high"], b["low"], b["close"]) for b in bars] == list(
        expected[["Open", "High", "Low", "Close"]].itertuples(index=False, name=None)
    )
    assert not reply.json()["nextPageToken"]


def test_the_last_daily_bar_of_hourly_data_is_marked_incomplete(stack: Stack, token: str) -> None:
    body = httpx.get(
        f"{EDGE}/api/history/EURUSD", params={"timeframe": "1d", "limit": "3"}, headers=bearer(token)
    ).json()
    last_hour = EURUSD.index[-1]
    assert body["bars"][-1]["complete"] is (last_hour.hour == 23)
    assert all(b["complete"] for b in body["bars"][:-1])


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/history/EURUSD", {"timeframe": "7m"}, 400, "timeframe"),
        ("/api/history/EURUSD", {"timeframe": "5m"}, 400, "timeframe"),  # finer than stored
        ("/api/history/EURUSD", {"limit": "5001"}, 400, "limit"),
        ("/api/history/EURUSD", {"limit": "-3"}, 400, "limit"),
        ("/api/history/EURUSD", {"start": "last tuesday"}, 400, "start"),
        ("/api/history/EURUSD", {"start": "2018-01-02", "end": "2018-01-01"}, 400, "end"),
        ("/api/history/EURUSD", {"page_token": "garbage"}, 400, "page_token"),
        ("/api/history/EUR%20USD", {}, 400, "symbol"),
        ("/api/indicators/GOOG", {"indicators": "rsi,foo"}, 400, "indicators"),
        ("/api/indicators/GOOG", {"indicators": "macd:26,12"}, 400, "indicators"),
        ("/api/indicators/GOOG", {}, 400, "indicators"),
    ],
)
def test_bad_requests_name_the_field(
    stack: Stack, token: str, path: str, params: dict[str, str], status: int, field: str
) -> None:
    reply = httpx.get(f"{EDGE}{path}", params=params, headers=bearer(token))
    assert reply.status_code == status, reply.text
    body = reply.json()
    fields = [v["field"] for d in body.get("details", []) for v in d.get("fieldViolations", [])]
    assert fields and set(fields) == {field}, body


def test_unknown_symbol_is_404(stack: Stack, token: str) -> None:
    reply = httpx.get(f"{EDGE}/api/history/NOPE", headers=bearer(token))
    assert reply.status_code == 404
    assert "NOPE" in reply.json()["message"]


def test_symbols_catalogue(stack: Stack, token: str) -> None:
    listed = httpx.get(f"{EDGE}/api/symbols", headers=bearer(token)).json()["symbols"]
    symbols = {s["info"]["symbol"]: s for s in listed}
    assert symbols["EURUSD"]["baseTimeframe"] == "1h" and symbols["EURUSD"]["barCount"] == str(len(EURUSD))
    assert symbols["GOOG"]["info"]["assetClass"] == "ASSET_CLASS_EQUITY"
    assert symbols["GOOG"]["info"]["timezone"] == "America/New_York"
    assert symbols["GOOG"]["firstBar"] == iso(utc_seconds(GOOG.index)[0])


def test_indicators_equal_talib_on_the_same_series(stack: Stack, token: str) -> None:
    reply = httpx.get(
        f"{EDGE}/api/indicators/GOOG",
        headers=bearer(token),
        params={"indicators": "rsi:14,macd:12,26,9,bbands:20,2,atr,vwap", "limit": "5000"},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["timeframe"] == "1d" and body["barsUsed"] == len(GOOG)
    assert body["times"][0] == iso(utc_seconds(GOOG.index)[0])
    series = {s["key"]: s for s in body["indicators"]}
    assert list(series) == ["rsi:14", "macd:12,26,9", "bbands:20,2", "atr:14", "vwap:14"]
    high, low, close = (GOOG[c].to_numpy(dtype=float) for c in ("High", "Low", "Close"))
    macd, signal, hist = talib.MACD(close, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    expected = {
        ("rsi:14", "rsi"): talib.RSI(close, 14),
        ("macd:12,26,9", "macd"): macd,
        ("macd:12,26,9", "signal"): signal,
        ("macd:12,26,9", "histogram"): hist,
        ("bbands:20,2", "upper"): upper,
        ("bbands:20,2", "middle"): middle,
        ("bbands:20,2", "lower"): lower,
        ("atr:14", "atr"): talib.ATR(high, low, close, 14),
    }
    for (key, output), values in expected.items():
        got = next(o["values"] for o in series[key]["outputs"] if o["name"] == output)
        warmup = int(np.isnan(values).sum())
        assert got[:warmup] == [None] * warmup  # JSON null, never NaN
        assert series[key]["warmupBars"] >= 0
        np.testing.assert_array_equal(np.array(got[warmup:], dtype=float), values[warmup:])
    assert series["macd:12,26,9"]["params"] == {"fast_period": 12, "slow_period": 26, "signal_period": 9}
    assert series["rsi:14"]["warmupBars"] == 14


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "5000", "packed": "true"},
        {"limit": "300"},
        {"timeframe": "1d", "limit": "40", "packed": "true"},
        {"timeframe": "4h", "start": "2017-06-01", "end": "2017-06-03"},
        {"start": "2030-01-01", "packed": "true"},
    ],
)
def test_history_rest_json_is_the_transcoded_json(stack: Stack, token: str, params: dict[str, str]) -> None:
    """GET /api/history/{symbol} is rendered by the engine (GetHistoryJson, google.api.HttpBody);
    /transcoded is Envoy's transcoder printing GetHistory: the same JSON, value for value."""
    rendered = httpx.get(f"{EDGE}/api/history/EURUSD", params=params, headers=bearer(token))
    transcoded = httpx.get(f"{EDGE}/api/history/EURUSD/transcoded", params=params, headers=bearer(token))
    assert rendered.status_code == transcoded.status_code == 200, (rendered.text[:200], transcoded.text[:200])
    assert rendered.headers["content-type"] == transcoded.headers["content-type"] == "application/json"
    assert rendered.json() == transcoded.json()
    assert list(rendered.json()) == list(transcoded.json())  # fields in the same order


def test_packed_forms_over_rest(stack: Stack, token: str) -> None:
    """`?packed=true`: history as columns and indicators as a warm-up count plus numbers, the same
    data as the default form; epoch seconds are JSON strings (int64), values JSON numbers."""
    params = {"limit": "50", "timeframe": "1d"}
    plain = httpx.get(f"{EDGE}/api/history/GOOG", params=params, headers=bearer(token)).json()
    reply = httpx.get(f"{EDGE}/api/history/GOOG", params={**params, "packed": "true"}, headers=bearer(token))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert not body.get("bars") and body["nextPageToken"] == plain["nextPageToken"]
    columns = body["columns"]
    assert [iso(int(t)) for t in columns["timeSeconds"]] == [b["time"] for b in plain["bars"]]
    assert columns["close"] == [b["close"] for b in plain["bars"]] == GOOG.Close.iloc[-50:].tolist()
    assert columns["lastComplete"] is True

    params = {"indicators": "rsi:14,macd", "limit": "5000"}
    plain = httpx.get(f"{EDGE}/api/indicators/GOOG", params=params, headers=bearer(token)).json()
    reply = httpx.get(
        f"{EDGE}/api/indicators/GOOG", params={**params, "packed": "true"}, headers=bearer(token)
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert not body.get("times") and [iso(int(t)) for t in body["timeSeconds"]] == plain["times"]
    for old, new in zip(plain["indicators"], body["indicators"], strict=True):
        for a, b in zip(old["outputs"], new["outputs"], strict=True):
            lead = b.get("warmup", 0)
            assert not b.get("values") and a["values"][:lead] == [None] * lead
            assert b["packedValues"] == a["values"][lead:] and None not in b["packedValues"]
    assert [o.get("warmup", 0) for s in body["indicators"] for o in s["outputs"]] == [14, 33, 33, 33]


def test_indicators_read_warmup_bars_before_the_window(stack: Stack, token: str) -> None:
    body = httpx.get(
        f"{EDGE}/api/indicators/EURUSD", params={"indicators": "sma:50", "limit": "10"}, headers=bearer(token)
    ).json()
    assert body["warmupBars"] == 49 and body["barsUsed"] == 59 and len(body["times"]) == 10
    values = body["indicators"][0]["outputs"][0]["values"]
    assert None not in values
    assert values[-1] == pytest.approx(EURUSD.Close.iloc[-50:].mean(), rel=1e-12)


def test_indicator_catalogue(stack: Stack, token: str) -> None:
    catalogue = {
        i["name"]: i for i in httpx.get(f"{EDGE}/api/indicators", headers=bearer(token)).json()["indicators"]
    }
    assert {
        "rsi",
        "macd",
        "atr",
        "sma",
        "ema",
        "bbands",
        "stoch",
        "adx",
        "obv",
        "cci",
        "willr",
        "mfi",
        "vwap",
    } <= set(catalogue)
    assert [p["name"] for p in catalogue["macd"]["parameters"]] == [
        "fast_period",
        "slow_period",
        "signal_period",
    ]
    assert catalogue["macd"]["outputs"] == ["macd", "signal", "histogram"]


def test_grpc_direct_and_via_envoy_agree(stack: Stack, token: str) -> None:
    request = md_pb.GetHistoryRequest(symbol="GOOG", limit=50, timeframe="1d")
    answers = []
    for port in (ENVOY_PORT, ML_PORT):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            answers.append(
                md_grpc.MarketDataServiceStub(channel).GetHistory(
                    request, metadata=list(bearer(token).items()), timeout=10
                )
            )
            indicators = ind_grpc.IndicatorServiceStub(channel).GetIndicators(
                ind_pb.GetIndicatorsRequest(symbol="GOOG", indicators=["rsi"], limit=5),
                metadata=list(bearer(token).items()),
                timeout=10,
            )
            assert len(indicators.indicators[0].outputs[0].values.values) == 5
    assert answers[0] == answers[1]
    assert [b.close for b in answers[0].bars] == GOOG.Close.iloc[-50:].tolist()


def test_grpc_web_serves_history_and_backtests(stack: Stack, token: str) -> None:
    history = grpc_web.call(
        f"{EDGE}/trading.market.v1.MarketDataService/GetHistory",
        md_pb.GetHistoryRequest(symbol="EURUSD", limit=24, timeframe="4h"),
        bearer(token),
    )
    assert history.grpc_status == 0, history.grpc_message
    bars = md_pb.GetHistoryResponse.FromString(history.messages[0]).bars
    assert len(bars) == 24 and all(b.high >= max(b.open, b.close) for b in bars)
    backtest = grpc_web.call(
        f"{EDGE}/trading.market.v1.BacktestService/RunBacktest",
        bt_pb.RunBacktestRequest(strategy="bollinger_breakout", symbol="GOOG"),
        bearer(token),
    )
    assert backtest.grpc_status == 0, backtest.grpc_message
    assert bt_pb.RunBacktestResponse.FromString(backtest.messages[0]).metrics.bars == len(GOOG)
    bad = grpc_web.call(
        f"{EDGE}/trading.market.v1.MarketDataService/GetHistory",
        md_pb.GetHistoryRequest(symbol="EURUSD", timeframe="2h"),
        bearer(token),
    )
    assert bad.grpc_status == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "timeframe" in bad.grpc_message
