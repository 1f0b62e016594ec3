"""Plans through Envoy (issue 15): every pro feature refused to a free token over REST, gRPC-Web,
native gRPC and the WebSocket bridge, naming the plan (and the field, for request values the
service checks) with google.rpc.ErrorInfo PLAN_REQUIRED; the same calls open to pro, to admins
and to service tokens (business calls the engine for its users); the ML engine answered directly
refuses a free token too (zero trust); and the per-plan rate limit: 429 / RESOURCE_EXHAUSTED with
RetryInfo, open again once the window ends (counted in Redis when TEST_REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any
from urllib.parse import unquote

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from service_runtime.signing_keys import SigningKeyStore
from tests.conftest import E2E_FREE_RATE_LIMIT, E2E_RATE_WINDOW_S, EDGE, ENVOY_PORT, ML_PORT, bearer, claims
from tests.e2e import grpc_web
from tests.e2e.test_ml_stream_edge import WS, ws_close, ws_messages
from tests.support.in_process import error_info
from tools.supervisor import Stack
from trading.market.v1 import backtest_service_pb2 as bt_pb
from trading.market.v1 import backtest_service_pb2_grpc as bt_grpc
from trading.ml.v1 import prediction_service_pb2 as pb
from trading.ml.v1 import prediction_service_pb2_grpc as pb_grpc

STREAM = "/trading.ml.v1.PredictionService/StreamPredictions"
PREDICT = "/trading.ml.v1.PredictionService/Predict"
EDGE_STREAM_REFUSAL = "requires plan pro (this token's plan: free)"


def sign(keys: SigningKeyStore, plan: str, roles: tuple[str, ...] = ("user",), sub: str = "") -> str:
    return keys.sign(claims(sub=sub or f"plans-{plan}-{uuid.uuid4().hex[:8]}", roles=list(roles), plan=plan))


def info_of_details(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The ErrorInfo of a REST error envelope's details."""
    return next(d for d in details if d.get("@type", "").endswith("google.rpc.ErrorInfo"))


def info_of_bin(value: str) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo in a grpc-status-details-bin value."""
    status = status_pb2.Status.FromString(base64.b64decode(value + "=" * (-len(value) % 4)))
    info = error_details_pb2.ErrorInfo()
    assert any(d.Unpack(info) for d in status.details), status
    return info


@pytest.mark.parametrize(
    ("route", "field", "value"),
    [
        ("/api/predict/EURUSD?horizon=swing", "horizon", "swing"),
        ("/api/predict/EURUSD?horizon=all", "horizon", "all"),
        ("/api/predict/EURUSD", "horizon", ""),
        ("/api/signals/EURUSD?timeframe=5m", "timeframe", "5m"),
    ],
)
def test_rest_refuses_a_free_token_what_pro_opens_naming_plan_and_field(
    stack: Stack, keys: SigningKeyStore, route: str, field: str, value: str
) -> None:
    reply = httpx.get(f"{EDGE}{route}", headers=bearer(sign(keys, "free")), timeout=30)
    assert reply.status_code == 403, reply.text
    body = reply.json()
    assert body["error"] == "permission_denied"
    shown = f'"{value}"' if value else "left empty (its default)"
    assert body["message"] == f"requires plan pro for {field} {shown} (this token's plan: free)"
    info = info_of_details(body["details"])
    assert (info["reason"], info["metadata"]["plan"], info["metadata"]["field"]) == (
        "PLAN_REQUIRED",
        "pro",
        field,
    )


def test_a_free_token_gets_intraday_predictions_and_1h_signals(stack: Stack, keys: SigningKeyStore) -> None:
    free = bearer(sign(keys, "free"))
    intraday = httpx.get(f"{EDGE}/api/predict/EURUSD?horizon=intraday", headers=free, timeout=30)
    assert intraday.status_code == 200, intraday.text
    assert [p["horizon"] for p in intraday.json()["predictions"]] == ["intraday"]
    signal = httpx.get(f"{EDGE}/api/signals/EURUSD?timeframe=1h", headers=free, timeout=30)
    assert signal.status_code == 200, signal.text


def test_backtests_of_ml_signals_and_over_a_year_are_pro(stack: Stack, keys: SigningKeyStore) -> None:
    free, pro = bearer(sign(keys, "free")), bearer(sign(keys, "pro"))
    year = {"strategy": "sma_cross", "symbol": "GOOG", "startDate": "2012-01-01", "endDate": "2013-01-01"}
    assert httpx.post(f"{EDGE}/api/backtest", json=year, headers=free, timeout=60).status_code == 200
    for body, field in (
        ({**year, "startDate": "2008-01-01"}, "start_date"),
        ({"strategy": "sma_cross", "symbol": "GOOG"}, "start_date"),  # every stored bar: 2004 to 2013
        ({**year, "strategy": "ml_signals", "symbol": "EURUSD", "startDate": "", "endDate": ""}, "strategy"),
    ):
        refused = httpx.post(f"{EDGE}/api/backtest", json=body, headers=free, timeout=60)
        assert refused.status_code == 403, refused.text
        assert f"requires plan pro for {field}" in refused.json()["message"]
        assert info_of_details(refused.json()["details"])["metadata"]["field"] == field
        # Pro passes the plan check (what the engine then says about the run is not about plans).
        passed = httpx.post(f"{EDGE}/api/backtest", json=body, headers=pro, timeout=60)
        assert passed.status_code != 403 and "plan" not in passed.text, passed.text
    web = grpc_web.call(
        f"{EDGE}/trading.market.v1.BacktestService/RunBacktest",
        bt_pb.RunBacktestRequest(strategy="ml_signals", symbol="EURUSD"),
        free,
    )
    assert web.grpc_status == 7 and "requires plan pro for strategy" in unquote(web.grpc_message), web
    details = web.trailers.get("grpc-status-details-bin") or web.headers["grpc-status-details-bin"]
    assert info_of_bin(details).metadata["field"] == "strategy"


def test_grpc_web_and_native_grpc_refuse_horizons_and_the_stream_to_free(
    stack: Stack, keys: SigningKeyStore
) -> None:
    free = bearer(sign(keys, "free"))
    web = grpc_web.call(f"{EDGE}{PREDICT}", pb.PredictRequest(symbol="EURUSD", horizon="position"), free)
    assert web.grpc_status == 7, web
    assert unquote(web.grpc_message) == 'requires plan pro for horizon "position" (this token\'s plan: free)'
    # The stream: the edge refuses it (trailers-only answer, the details in its headers).
    stream = grpc_web.call(f"{EDGE}{STREAM}", pb.StreamPredictionsRequest(symbol="EURUSD"), free)
    assert stream.grpc_status == 7 and unquote(stream.grpc_message) == EDGE_STREAM_REFUSAL, stream
    edge_info = info_of_bin(stream.headers["grpc-status-details-bin"])
    assert (edge_info.reason, edge_info.metadata["plan"]) == ("PLAN_REQUIRED", "pro")
    with grpc.insecure_channel(f"127.0.0.1:{ENVOY_PORT}") as channel:
        metadata = list(free.items())
        with pytest.raises(grpc.RpcError) as refused:
            pb_grpc.PredictionServiceStub(channel).Predict(
                pb.PredictRequest(symbol="EURUSD", horizon="scalping"), metadata=metadata, timeout=30
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
        assert error_info(refused.value).metadata["field"] == "horizon"
        with pytest.raises(grpc.RpcError) as closed:
            next(
                iter(
                    pb_grpc.PredictionServiceStub(channel).StreamPredictions(
                        pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=metadata, timeout=30
                    )
                )
            )
        assert closed.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
        assert closed.value.details() == EDGE_STREAM_REFUSAL  # type: ignore[attr-defined]
        assert error_info(closed.value).metadata["plan"] == "pro"


def test_the_websocket_bridge_refuses_the_stream_to_free_and_streams_to_pro(
    stack: Stack, keys: SigningKeyStore
) -> None:
    code, reason, received = asyncio.run(
        ws_close(f"{WS}/ws/EURUSD", additional_headers=bearer(sign(keys, "free")))
    )
    assert (code, reason, received) == (1008, EDGE_STREAM_REFUSAL, [])
    messages = asyncio.run(ws_messages(f"{WS}/ws/EURUSD", 1, additional_headers=bearer(sign(keys, "pro"))))
    assert messages[0]["symbol"] == "EURUSD"


def test_admins_and_service_tokens_pass_every_plan_check(stack: Stack, keys: SigningKeyStore) -> None:
    admin = bearer(sign(keys, "free", roles=("admin",)))
    reply = httpx.get(f"{EDGE}/api/predict/EURUSD?horizon=swing", headers=admin, timeout=30)
    assert reply.status_code == 200, reply.text
    service = sign(keys, "", roles=("service",), sub="service:business")
    metadata = [("authorization", f"Bearer {service}")]
    # Through the edge (its plan check lets role service by) and at the engine's own port, as
    # business calls it.
    for port in (ENVOY_PORT, ML_PORT):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stream = pb_grpc.PredictionServiceStub(channel).StreamPredictions(
                pb.StreamPredictionsRequest(symbol="EURUSD"), metadata=metadata, timeout=60
            )
            assert next(iter(stream)).symbol == "EURUSD"
            stream.cancel()
    with grpc.insecure_channel(f"127.0.0.1:{ML_PORT}") as channel:
        whole = bt_grpc.BacktestServiceStub(channel).RunBacktest(
            bt_pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG"), metadata=metadata, timeout=60
        )
        assert whole.metrics.bars > 2000
        # A free token at the engine's port is refused there too (zero trust).
        with pytest.raises(grpc.RpcError) as refused:
            next(
                iter(
                    pb_grpc.PredictionServiceStub(channel).StreamPredictions(
                        pb.StreamPredictionsRequest(symbol="EURUSD"),
                        metadata=[("authorization", f"Bearer {sign(keys, 'free')}")],
                        timeout=30,
                    )
                )
            )
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]


def test_a_free_user_over_the_ml_rate_limit_gets_429_with_retry_info_until_the_window_ends(
    stack: Stack, keys: SigningKeyStore
) -> None:
    free = bearer(sign(keys, "free"))
    route = f"{EDGE}/api/predict/EURUSD?horizon=intraday"
    # Windows are fixed (number floor(time / window)): start just after one opens, so that the gRPC
    # call below still falls in the window of the REST calls' refusal.
    time.sleep(E2E_RATE_WINDOW_S - time.time() % E2E_RATE_WINDOW_S + 0.05)
    # Until refused: at most the limit in one window (two windows if the calls straddle one).
    answered = 0
    with httpx.Client(headers=free, timeout=30) as client:
        for _ in range(2 * E2E_FREE_RATE_LIMIT + 1):
            reply = client.get(route)
            if reply.status_code != 200:
                break
            answered += 1
        assert reply.status_code == 429, reply.text
        assert 0 < answered <= 2 * E2E_FREE_RATE_LIMIT
        body = reply.json()
        assert body["error"] == "resource_exhausted"
        assert (
            f"rate limit of plan free: {E2E_FREE_RATE_LIMIT} ML requests per {E2E_RATE_WINDOW_S} s"
            in body["message"]
        )
        retry = next(d for d in body["details"] if d["@type"].endswith("google.rpc.RetryInfo"))
        delay_s = float(retry["retryDelay"].rstrip("s"))
        assert 0 < delay_s <= E2E_RATE_WINDOW_S
        # The same user over gRPC through Envoy is refused too (one count per user, not per protocol).
        with (
            grpc.insecure_channel(f"127.0.0.1:{ENVOY_PORT}") as channel,
            pytest.raises(grpc.RpcError) as limited,
        ):
            pb_grpc.PredictionServiceStub(channel).Predict(
                pb.PredictRequest(symbol="EURUSD", horizon="intraday"),
                metadata=list(free.items()),
                timeout=30,
            )
        status = rpc_status.from_call(limited.value)  # type: ignore[arg-type]
        assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        assert status is not None and any(
            d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details
        )
        time.sleep(delay_s + 0.2)
        assert client.get(route).status_code == 200
    # A pro user is far from its limit.
    pro = bearer(sign(keys, "pro"))
    assert all(
        httpx.get(route, headers=pro, timeout=30).status_code == 200 for _ in range(E2E_FREE_RATE_LIMIT + 1)
    )
