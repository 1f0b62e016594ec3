"""The rendered Envoy config (pure functions, no servers): routes, retries, timeouts, JWT rules."""

from __future__ import annotations

from typing import Any

import pytest

from envoy.render import render
from envoy.routes import STRIPE_WEBHOOK_PATH
from envoy.rpcs import load_rpcs, upstream_of
from envoy.settings import EdgeSettings
from gateway import stripe_webhooks

RENDERED_HISTORY = "/trading.market.v1.MarketDataService/GetHistoryJson"
IMPORT_BARS = "/trading.market.v1.MarketDataService/ImportBars"


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


def test_ml_routes_are_bounded_by_ml_service_timeout() -> None:
    edge = EdgeSettings.from_environment({"ML_SERVICE_TIMEOUT": "1500"})
    ml = [r for r in _routes(render(edge)) if r["route"]["cluster"] == "ml_engine"]
    assert ml and all(r["route"]["timeout"] == "1.5s" for r in ml)
    assert all(
        r["route"]["retry_policy"]["per_try_timeout"] == "1.5s" for r in ml if "retry_policy" in r["route"]
    )


def test_envoy_upgrades_ws_to_the_gateway_and_leaves_the_token_to_the_bridge(config: dict[str, Any]) -> None:
    routes = _routes(config)
    ws = [r for r in routes if r["match"].get("prefix") == "/ws/"]
    assert len(ws) == 1 and routes.index(ws[0]) < routes.index(
        next(r for r in routes if r["match"] == {"prefix": "/"})
    )
    action = ws[0]["route"]
    assert action["cluster"] == "gateway" and action["upgrade_configs"] == [{"upgrade_type": "websocket"}]
    assert action["timeout"] == "0s" and action["idle_timeout"] == "0s" and "retry_policy" not in action
    # no rule requires a token there: the bridge verifies it (close code 1008)
    assert not any(r["match"].get("prefix") in ("/", "/ws/") for r in _jwt_rules(config))
    # an upgraded connection is never buffered
    assert ws[0]["typed_per_filter_config"]["envoy.filters.http.buffer"]["disabled"] is True


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
    # Every RPC (REST calls too: transcoded before jwt_authn) needs a token unless public; the
    # gateway's paths (web app pages, mail links, JWKS, docs, the 404 of unknown routes) do not.
    required = {"requires": {"provider_name": "platform"}}
    assert rules[-2:] == [
        {"match": {"prefix": "/trading."}, **required},
        {"match": {"prefix": "/grpc.reflection."}, **required},
    ]


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


def _body_limit(route: dict[str, Any]) -> int:
    limit: int = route["typed_per_filter_config"]["envoy.filters.http.buffer"]["buffer"]["max_request_bytes"]
    return limit


COURSE_SAVES = (
    "/trading.education.v1.AuthoringService/CreateCourse",
    "/trading.education.v1.AuthoringService/UpdateCourse",
)


def test_every_route_limits_its_body(config: dict[str, Any]) -> None:
    unbuffered = ("/ws/", "/grpc.reflection.")  # bodies that stay open: never buffered
    for route in _routes(config):
        if route["match"].get("prefix") in unbuffered:
            assert route["typed_per_filter_config"]["envoy.filters.http.buffer"]["disabled"] is True
    routes = [r for r in _routes(config) if r["match"].get("prefix") not in unbuffered]
    larger = {IMPORT_BARS, *COURSE_SAVES, RENDERED_HISTORY, STRIPE_WEBHOOK_PATH}
    assert routes and all(_body_limit(r) <= 64 * 1024 for r in routes if r["match"].get("path") not in larger)
    # The CSV import takes more: the engine imports up to 4 MiB of CSV.
    (import_bars,) = [r for r in routes if r["match"].get("path") == IMPORT_BARS]
    assert _body_limit(import_bars) == 5 * 1024 * 1024 and import_bars["route"]["cluster"] == "ml_engine"
    # So does saving a whole course (its lessons' markdown), over gRPC and REST alike.
    saves = [r for r in routes if r["match"].get("path") in COURSE_SAVES]
    assert len(saves) == 2 and all(_body_limit(r) == 4 * 1024 * 1024 for r in saves)
    # An RPC answering google.api.HttpBody (REST history, rendered by the engine) has its answer
    # held in the stream's buffer, whose limit the buffer filter sets both ways: 8 MiB, as for
    # transcoded answers (below it a 614 KB history answer was a 500).
    (rendered,) = [r for r in routes if r["match"].get("path") == RENDERED_HISTORY]
    assert _body_limit(rendered) == 8 * 1024 * 1024
    names = [f["name"] for f in _manager(config)["http_filters"]]
    # After the transcoder: a REST call is routed as its RPC, with the RPC's limit.
    assert names.index("envoy.filters.http.buffer") > names.index("envoy.filters.http.grpc_json_transcoder")


def test_stripe_events_reach_the_webhook_whole_and_are_not_retried(config: dict[str, Any]) -> None:
    routes = _routes(config)
    (webhook,) = [r for r in routes if r["match"].get("path") == STRIPE_WEBHOOK_PATH]
    # Above the catch-all and its 16 KiB: Stripe's event reaches the gateway up to the gateway's own
    # limit (an invoice with many lines is larger), so the edge never refuses one the gateway takes.
    assert routes.index(webhook) < routes.index(next(r for r in routes if r["match"] == {"prefix": "/"}))
    assert STRIPE_WEBHOOK_PATH == stripe_webhooks.PATH
    assert _body_limit(webhook) == stripe_webhooks.MAX_BODY_BYTES == 512 * 1024
    # Business may have recorded it; Stripe delivers it again by itself.
    assert webhook["route"]["cluster"] == "gateway" and "retry_policy" not in webhook["route"]


def test_the_edge_assigns_the_request_id(config: dict[str, Any]) -> None:
    manager = _manager(config)
    assert manager["generate_request_id"] is True
    assert manager["preserve_external_request_id"] is False
    assert manager["always_set_request_id_in_response"] is True
    # Loopback callers are not "internal" (they would keep their own x-request-id).
    ranges = manager["internal_address_config"]["cidr_ranges"]
    assert ranges == [{"address_prefix": "0.0.0.0", "prefix_len": 32}]
    assert manager["max_request_headers_kb"] == 8


def test_the_local_default_listens_on_loopback(config: dict[str, Any]) -> None:
    address = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert address["address"] == "127.0.0.1"


def test_every_cluster_admits_thousands_of_streams(config: dict[str, Any]) -> None:
    # An open stream is one upstream request and a WebSocket one upstream connection for as long
    # as it lasts: Envoy's defaults (1,024) would refuse the 1,025th subscriber.
    clusters = config["static_resources"]["clusters"]
    assert {c["name"] for c in clusters} == {"business", "ml_engine", "gateway"}
    for cluster in clusters:
        (threshold,) = cluster["circuit_breakers"]["thresholds"]
        assert threshold["max_requests"] >= 5_000, cluster["name"]
        assert threshold["max_pending_requests"] >= 5_000, cluster["name"]
        assert threshold["max_connections"] >= 5_000, cluster["name"]
    # A WebSocket is a connection to the gateway: in a burst, a SYN its full listen queue dropped
    # comes again after 1 s, so the gateway's connect timeout must outlast that retry (5,000
    # sockets at once: 623 were 503 with 1 s, none with 3 s).
    (gateway,) = [c for c in clusters if c["name"] == "gateway"]
    assert float(gateway["connect_timeout"].removesuffix("s")) > 2


def test_the_edge_serving_the_app_is_an_allowed_origin() -> None:
    """`make run` serves the app through the edge: the refresh cookie (set only for an allowed
    Origin) must be set for the edge's own origin, or every reload signs the user out."""
    from service_runtime import defaults

    origins = EdgeSettings.defaults().cors_origins
    assert f"http://localhost:{defaults.ENVOY_PORT}" in origins
    assert f"http://{defaults.LOOPBACK}:{defaults.ENVOY_PORT}" in origins
