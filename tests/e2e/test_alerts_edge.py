"""Watchlists, alert rules, alerts and saved backtests through Envoy: REST and gRPC-Web, bad input
(400 naming the field), no token (401), another user's records (404), and alerts fired by business
on the ML engine's replay feed, delivered once per bar to every open stream and by email."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import EDGE, bearer, claims
from tests.e2e import grpc_web
from tests.e2e.accounts import register_verified, tokens_of
from tests.support.smtp_sink import SmtpSink
from tools.supervisor import Stack
from trading.alerts.v1 import alert_service_pb2 as alert_pb
from trading.ml.v1 import prediction_service_pb2 as ps_pb

STREAM_ALERTS = f"{EDGE}/trading.alerts.v1.AlertService/StreamAlerts"
STREAM_PREDICTIONS = f"{EDGE}/trading.ml.v1.PredictionService/StreamPredictions"
# The replay feed publishes an hourly bar every couple of seconds; generous, never a timing assertion.
WAIT_S = 120.0


def call(method: str, path: str, token: str = "", body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.request(
        method, f"{EDGE}{path}", json=body, headers=bearer(token) if token else {}, timeout=30
    )


def fields_of(reply: httpx.Response) -> set[str]:
    return {v["field"] for d in reply.json().get("details", []) for v in d.get("fieldViolations", [])}


@pytest.fixture(scope="module")
def alice(stack: Stack, smtp_sink: SmtpSink) -> tuple[str, str]:
    email = register_verified(smtp_sink)
    return email, tokens_of(email)["accessToken"]


@pytest.fixture(scope="module")
def bob(stack: Stack, smtp_sink: SmtpSink) -> str:
    token: str = tokens_of(register_verified(smtp_sink))["accessToken"]
    return token


def test_watchlists_over_rest(alice: tuple[str, str], bob: str) -> None:
    _, token = alice
    unknown = call("POST", "/api/watchlists", token, {"name": "FX", "symbols": ["EURUSD", "NOPE"]})
    assert unknown.status_code == 400 and fields_of(unknown) == {"symbols[1]"}
    assert call("POST", "/api/watchlists", "", {"name": "FX", "symbols": ["EURUSD"]}).status_code == 401
    created = call("POST", "/api/watchlists", token, {"name": "FX", "symbols": ["eurusd"]})
    assert created.status_code == 200, created.text
    watchlist = created.json()["watchlist"]
    assert watchlist["symbols"] == ["EURUSD"]
    path = f"/api/watchlists/{watchlist['watchlistId']}"
    renamed = call("PUT", path, token, {"name": "Majors", "symbols": ["EURUSD"]})
    assert renamed.status_code == 200 and renamed.json()["watchlist"]["name"] == "Majors"
    for method, body in (("GET", None), ("PUT", {"name": "x", "symbols": []}), ("DELETE", None)):
        assert call(method, path, bob, body).status_code == 404, method
    assert call("GET", "/api/watchlists", bob).json().get("watchlists", []) == []
    assert [w["watchlistId"] for w in call("GET", "/api/watchlists", token).json()["watchlists"]] == [
        watchlist["watchlistId"]
    ]
    assert call("DELETE", path, token).status_code == 200
    assert call("GET", path, token).status_code == 404


def test_saved_backtests_over_rest(alice: tuple[str, str], bob: str) -> None:
    _, token = alice
    body = {
        "name": "SMA on EURUSD",
        "config": {"strategy": "sma_cross", "symbol": "EURUSD", "timeframe": "1h", "params": {"fast": 10}},
        "summary": {"totalReturn": 0.08, "sharpe": 1.1, "trades": 12},
    }
    saved = call("POST", "/api/saved-backtests", token, body)
    assert saved.status_code == 200, saved.text
    saved_id = saved.json()["savedBacktest"]["savedBacktestId"]
    bad = call(
        "POST", "/api/saved-backtests", token, {**body, "config": {"strategy": "sma_cross", "symbol": "NOPE"}}
    )
    assert bad.status_code == 400 and fields_of(bad) == {"config.symbol"}
    listed = call("GET", "/api/saved-backtests", token).json()["savedBacktests"]
    assert [s["savedBacktestId"] for s in listed] == [saved_id] and listed[0]["summary"]["trades"] == 12
    assert call("GET", "/api/saved-backtests", bob).json().get("savedBacktests", []) == []
    assert call("DELETE", f"/api/saved-backtests/{saved_id}", bob).status_code == 404


def current_close(keys: SigningKeyStore) -> float:
    """The close of the replay feed's next bar, read from the prediction stream (a pro token: the
    stream may be a pro feature)."""
    token = keys.sign(claims(sub="alerts-e2e", plan="pro"))
    request = ps_pb.StreamPredictionsRequest(symbol="EURUSD", timeframe="1h")
    for frame in grpc_web.stream(STREAM_PREDICTIONS, request, bearer(token), WAIT_S):
        return ps_pb.StreamPredictionsResponse.FromString(frame).close
    raise AssertionError("the prediction stream ended without a bar")


def first_alerts(token: str, count: int, into: list[alert_pb.Alert], opened: threading.Event) -> None:
    for frame in grpc_web.stream(STREAM_ALERTS, alert_pb.StreamAlertsRequest(), bearer(token), WAIT_S):
        if not opened.is_set():
            opened.set()
        into.append(alert_pb.StreamAlertsResponse.FromString(frame).alert)
        if len(into) == count:
            return


def streams(
    token: str, count: int, alerts: int = 1
) -> Iterator[tuple[threading.Thread, list[alert_pb.Alert]]]:
    for _ in range(count):
        received: list[alert_pb.Alert] = []
        thread = threading.Thread(
            target=first_alerts, args=(token, alerts, received, threading.Event()), daemon=True
        )
        thread.start()
        yield thread, received


def test_rules_fire_once_per_bar_to_every_open_stream_and_by_email(
    alice: tuple[str, str], bob: str, keys: SigningKeyStore, smtp_sink: SmtpSink
) -> None:
    email, token = alice
    close = current_close(keys)
    # A grid of levels around the price: the next bars cross some of them.
    rule_ids = set()
    for k in range(-15, 16):
        level = round(close * (1 + k * 0.0004), 6)
        reply = call(
            "POST",
            "/api/alerts/rules",
            token,
            {
                "symbol": "EURUSD",
                "kind": "ALERT_KIND_PRICE_CROSS",
                "level": level,
                "direction": "CROSS_DIRECTION_ANY",
                "notifyEmail": True,
            },
        )
        assert reply.status_code == 200, reply.text
        rule_ids.add(reply.json()["rule"]["ruleId"])
    bad = call(
        "POST",
        "/api/alerts/rules",
        token,
        {"symbol": "EURUSD", "kind": "ALERT_KIND_SIGNAL", "minConfidence": 2},
    )
    assert bad.status_code == 400 and fields_of(bad) == {"side"}

    # Two tabs of the same user: one evaluation per bar, the same alerts delivered to both. A stream
    # replays nothing, and a bar may close between the two tabs' subscriptions: each reads three
    # alerts (a bar crosses several levels of the grid), and they share those after the later one.
    tabs = list(streams(token, 2, alerts=3))
    for thread, _ in tabs:
        thread.join(WAIT_S)
    first_tab, second_tab = ([a.alert_id for a in received] for _, received in tabs)
    shared = [alert_id for alert_id in first_tab if alert_id in second_tab]
    assert shared and shared == [alert_id for alert_id in second_tab if alert_id in first_tab], tabs
    first = next(a for a in tabs[0][1] if a.alert_id == shared[0])
    assert first.rule_id in rule_ids
    assert first.symbol == "EURUSD" and "crossed" in first.message

    history = call("GET", "/api/alerts?limit=200", token).json()["alerts"]
    assert first.alert_id in {a["alertId"] for a in history}
    fired = [(a["ruleId"], a["barTime"]) for a in history]
    assert len(fired) == len(set(fired)), "a rule fired twice on one bar"
    mail = smtp_sink.wait_for(email, subject_contains="Alert: EURUSD crossed")
    assert "/alerts" in SmtpSink.body(mail)

    # Bob sees none of it and cannot delete Alice's rules.
    assert call("GET", "/api/alerts", bob).json().get("alerts", []) == []
    assert call("GET", "/api/alerts/rules", bob).json().get("rules", []) == []
    assert call("DELETE", f"/api/alerts/rules/{first.rule_id}", bob).status_code == 404
    # Alice's rules go away: no more evaluation for her.
    for rule_id in rule_ids:
        assert call("DELETE", f"/api/alerts/rules/{rule_id}", token).status_code == 200
    assert call("GET", "/api/alerts/rules", token).json().get("rules", []) == []
