"""The rendered Envoy config (pure functions, no servers): routes, retries, timeouts, JWT rules."""

from __future__ import annotations

from typing import Any

import pytest

from envoy.render import render
from envoy.rpcs import load_rpcs, upstream_of
from envoy.settings import EdgeSettings


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return render(EdgeSettings.defaults())


def _manager(config: dict[str, Any]) -> dict[str, Any]:
    manager: dict[str, Any] = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
        "typed_config"
    ]
    return manager


def _routes(config: dict[str, Any]) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = _manager(config)["route_config"]["virtual_hosts"][0]["routes"]
    return routes


def _jwt_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    jwt = next(f for f in _manager(config)["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn")
    rules: list[dict[str, Any]] = jwt["typed_config"]["rules"]
    return rules


def test_only_reads_are_retried(config: dict[str, Any]) -> None:
    routes = _routes(config)
    retried = {r["match"].get("path") for r in routes if "retry_policy" in r["route"]}
    assert "/trading.ml.v1.EngineService/GetStats" in retried
    assert "/trading.status.v1.StatusService/GetHealth" in retried
    prefix_routes = [r for r in routes if str(r["match"].get("prefix", "")).startswith("/trading.")]
    assert prefix_routes and all("retry_policy" not in r["route"] for r in prefix_routes)


def test_admin_listens_on_loopback_only(config: dict[str, Any]) -> None:
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


def test_ml_routes_are_bounded_by_the_seed_timeout(config: dict[str, Any]) -> None:
    ml = [r for r in _routes(config) if r["route"]["cluster"] == "ml_engine"]
    assert ml and all(r["route"]["timeout"] == "30.0s" for r in ml)


def test_envoy_upgrades_ws_to_the_gateway_and_leaves_the_token_to_the_bridge(config: dict[str, Any]) -> None:
    routes = _routes(config)
    ws = [r for r in routes if r["match"].get("prefix") == "/ws/"]
    assert len(ws) == 1 and routes.index(ws[0]) < routes.index(
        next(r for r in routes if r["match"] == {"prefix": "/"})
    )
    action = ws[0]["route"]
    assert action["cluster"] == "gateway" and action["upgrade_configs"] == [{"upgrade_type": "websocket"}]
    assert action["timeout"] == "0s" and action["idle_timeout"] == "0s" and "retry_policy" not in action
    # no `requires`: the bridge verifies the token (close code 1008)
    assert {"match": {"prefix": "/ws/"}} in _jwt_rules(config)


def test_envoy_lets_server_streams_run_past_the_unary_timeout(config: dict[str, Any]) -> None:
    routes = _routes(config)
    stream = next(
        r for r in routes if r["match"].get("path") == "/trading.ml.v1.PredictionService/StreamPredictions"
    )
    action = stream["route"]
    # gRPC and gRPC-Web calls are bounded by their own grpc-timeout instead of the route timeout.
    assert action["max_stream_duration"] == {"grpc_timeout_header_max": "0s"}
    assert action["idle_timeout"] == "0s" and "retry_policy" not in action
    unary = next(r for r in routes if r["match"].get("path") == "/trading.ml.v1.PredictionService/Predict")
    assert "max_stream_duration" not in unary["route"] and "retry_policy" in unary["route"]


def test_public_rpcs_skip_jwt_and_everything_else_needs_a_token(config: dict[str, Any]) -> None:
    rules = _jwt_rules(config)
    assert {"match": {"path": "/trading.status.v1.StatusService/GetHealth"}} in rules
    assert {"match": {"path": "/trading.identity.v1.AuthService/Login"}} in rules
    assert not any(r["match"].get("path") == "/trading.ml.v1.EngineService/GetStats" for r in rules)
    assert rules[-1] == {"match": {"prefix": "/"}, "requires": {"provider_name": "platform"}}


def test_each_package_goes_to_the_service_owning_it() -> None:
    assert upstream_of("trading.ml.v1") == "ml_engine"
    assert upstream_of("trading.market.v1") == "ml_engine"
    assert upstream_of("trading.identity.v1") == "business"
    rpcs = load_rpcs()
    assert [rpc.path for rpc in rpcs] == sorted(rpc.path for rpc in rpcs)  # not the descriptor's file order


def test_rate_limits_scale_and_never_reach_zero() -> None:
    tiny = EdgeSettings.defaults().model_copy(update={"rate_limit_scale": 0.0001})
    route = _routes(render(tiny))[0]
    bucket = route["typed_per_filter_config"]["envoy.filters.http.local_ratelimit"]["token_bucket"]
    assert bucket["max_tokens"] == 1 and bucket["tokens_per_fill"] == 1
