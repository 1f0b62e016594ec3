"""The routes: where each request goes, with its timeout, retries, rate limit and body size limit.

First match wins, top to bottom: server streams (no route timeout), reads (retried), RPCs with a
body limit of their own, every other RPC by its package, server reflection, the OAuth callbacks,
Stripe's webhook, the WebSocket bridge, and the gateway for everything else (JWKS, API docs, the
web app and its pages, such as the /verify-email and /reset-password links in mails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envoy.rpcs import PACKAGE_UPSTREAMS, Rpc, packages_longest_first
from envoy.settings import EdgeSettings
from envoy.typed import typed

# WS /ws/{symbol} (gateway/ws_bridge.py): upgraded, verified by the bridge itself.
WEBSOCKET_PREFIX = "/ws/"
CORS_ALLOW_HEADERS = (
    "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, "
    "connect-protocol-version, connect-timeout-ms, x-request-id, x-refresh-cookie"
)
CORS_EXPOSE_HEADERS = "grpc-status, grpc-message, grpc-status-details-bin, x-request-id"


@dataclass(frozen=True)
class RateLimit:
    """Token bucket: `burst` requests at once, refilled by `per_second`."""

    burst: int
    per_second: int

    def scaled(self, scale: float) -> RateLimit:
        return RateLimit(max(1, int(self.burst * scale)), max(1, int(self.per_second * scale)))


# Per-upstream limits; reads of the ML engine are the costly ones. RATE_LIMIT_SCALE scales them.
RATE_LIMITS = {
    "business": RateLimit(burst=2000, per_second=1000),
    "ml_engine": RateLimit(burst=1000, per_second=500),
    "gateway": RateLimit(burst=500, per_second=200),
}
# Per-upstream route timeouts; ML calls are bounded by ML_SERVICE_TIMEOUT (the seed's 30 s).
TIMEOUTS_S = {"business": 10.0, "gateway": 15.0}
KIB, MIB = 1024, 1024 * 1024
# The largest request body a route takes (the JSON of a REST call, the framed messages of a gRPC
# one); a bigger one is refused at the edge, before it reaches a service: REST 413, gRPC
# RESOURCE_EXHAUSTED. The services themselves take up to 8 MiB (service_runtime/server.py).
MAX_REQUEST_BYTES = {"business": 64 * KIB, "ml_engine": 64 * KIB, "gateway": 16 * KIB}
# RPCs that carry data take more: the engine imports up to 4 MiB of CSV, a little more as JSON;
# an author saves a whole course (its lessons' markdown) at once.
RPC_MAX_REQUEST_BYTES = {
    "/trading.market.v1.MarketDataService/ImportBars": 5 * MIB,
    "/trading.education.v1.AuthoringService/CreateCourse": 4 * MIB,
    "/trading.education.v1.AuthoringService/UpdateCourse": 4 * MIB,
}
# Stripe's webhook (gateway/stripe_webhooks.py) takes events up to the gateway's own limit: an
# invoice with many lines is far past the gateway's 16 KiB, and a 413 here would only make Stripe
# deliver it again until it gives up.
STRIPE_WEBHOOK_PATH = "/api/billing/webhooks/stripe"
STRIPE_WEBHOOK_MAX_BYTES = 512 * KIB
# The largest REST answer the transcoder writes (a longer one is a 500): as much as the services
# take in a message.
MAX_RESPONSE_BYTES = 8 * MIB
RETRY_ON = "connect-failure,refused-stream,reset,unavailable"
RETRY_BACK_OFF = {"base_interval": "0.025s", "max_interval": "0.25s"}


def route_config(edge: EdgeSettings, rpcs: list[Rpc]) -> dict[str, Any]:
    platform = {
        "name": "platform",
        "domains": ["*"],
        "routes": routes(edge, rpcs),
        "typed_per_filter_config": {"envoy.filters.http.cors": cors_policy(edge)},
    }
    return {"name": "edge", "virtual_hosts": [platform]}


def cors_policy(edge: EdgeSettings) -> dict[str, Any]:
    """The CORS filter's policy for the whole virtual host: the configured browser origins."""
    return typed(
        "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        allow_origin_string_match=[{"exact": origin} for origin in edge.cors_origins],
        allow_methods="GET, POST, PUT, PATCH, DELETE, OPTIONS",
        allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
        max_age="600",
        # The web app's AuthService calls carry the refresh cookie (refresh_cookie.lua); origins
        # stay an exact list, never a wildcard.
        allow_credentials=True,
    )


def routes(edge: EdgeSettings, rpcs: list[Rpc]) -> list[dict[str, Any]]:
    to = _Routes(edge)
    return [
        *[to.stream(rpc) for rpc in rpcs if rpc.server_streaming],
        # Reads get their own exact route so only they are retried.
        *[to.rpc(rpc, retry=True) for rpc in rpcs if _unary_read(rpc)],
        *[to.rpc(rpc) for rpc in rpcs if rpc.path in RPC_MAX_REQUEST_BYTES and not _unary_read(rpc)],
        *[to.upstream({"prefix": "/" + p}, PACKAGE_UPSTREAMS[p]) for p in packages_longest_first()],
        # Server reflection for ops (`buf curl` through the edge) is answered by business, which
        # links every contract of the platform; it needs a token like any other call.
        to.unbuffered(to.upstream({"prefix": "/grpc.reflection.", "grpc": {}}, "business")),
        # OAuth callbacks spend their single-use state: a retry would only fail, so none.
        to.upstream({"prefix": "/api/auth/oauth/"}, "gateway"),
        # Not retried either: business may have recorded the event, and Stripe delivers it again.
        to.upstream({"path": STRIPE_WEBHOOK_PATH}, "gateway", max_request_bytes=STRIPE_WEBHOOK_MAX_BYTES),
        to.websocket(),
        to.upstream({"prefix": "/"}, "gateway", retry=True),
    ]


def _unary_read(rpc: Rpc) -> bool:
    return rpc.read and not rpc.server_streaming


def timeouts_s(edge: EdgeSettings) -> dict[str, float]:
    """Route timeout per upstream (s)."""
    return {**TIMEOUTS_S, "ml_engine": edge.ml_service_timeout / 1000}


class _Routes:
    """Builds routes to the upstreams, each with its timeout, its rate-limit bucket and its body
    size limit."""

    def __init__(self, edge: EdgeSettings) -> None:
        self.rate_limit_scale = edge.rate_limit_scale
        self.timeouts_s = timeouts_s(edge)

    def rpc(self, rpc: Rpc, *, retry: bool = False) -> dict[str, Any]:
        """The exact route of one RPC."""
        limit = RPC_MAX_REQUEST_BYTES.get(rpc.path, MAX_REQUEST_BYTES[rpc.upstream])
        if rpc.http_body:
            # The buffer filter's limit is the stream's buffer limit both ways, and the transcoder
            # holds an HttpBody answer whole in that buffer (a typed one in its own, up to
            # max_response_body_size): at 64 KiB a longer rendered answer would be a 500.
            limit = max(limit, MAX_RESPONSE_BYTES)
        return self.upstream({"path": rpc.path}, rpc.upstream, retry=retry, max_request_bytes=limit)

    def upstream(
        self,
        match: dict[str, Any],
        cluster: str,
        *,
        retry: bool = False,
        max_request_bytes: int | None = None,
    ) -> dict[str, Any]:
        timeout = f"{self.timeouts_s[cluster]}s"
        action: dict[str, Any] = {"cluster": cluster, "timeout": timeout}
        if retry:
            action["retry_policy"] = {
                "retry_on": RETRY_ON,
                "num_retries": 2,
                "per_try_timeout": timeout,
                "retry_back_off": RETRY_BACK_OFF,
            }
        bucket = rate_limit_bucket(RATE_LIMITS[cluster].scaled(self.rate_limit_scale), f"rl_{cluster}")
        body_limit = body_size_limit(max_request_bytes or MAX_REQUEST_BYTES[cluster])
        return {
            "match": match,
            "route": action,
            "typed_per_filter_config": {
                "envoy.filters.http.local_ratelimit": bucket,
                "envoy.filters.http.buffer": body_limit,
            },
        }

    def stream(self, rpc: Rpc) -> dict[str, Any]:
        """A server stream lives as long as its client wants: the route timeout (which for gRPC
        runs until the whole response is in) would cut every stream. With grpc_timeout_header_max
        0 a gRPC or gRPC-Web call is bounded by its own grpc-timeout (none: unbounded) instead of
        the route timeout, and the idle timeout is off since bars may be an hour apart. A stream
        is never retried (it may have sent messages)."""
        route = self.rpc(rpc)
        route["route"].update(max_stream_duration={"grpc_timeout_header_max": "0s"}, idle_timeout="0s")
        return route

    def websocket(self) -> dict[str, Any]:
        """WS /ws/{symbol} to the gateway's bridge: upgraded, never timed out (a prediction stream
        is long-lived and may be idle for an hour between bars), never retried."""
        route = self.upstream({"prefix": WEBSOCKET_PREFIX}, "gateway")
        route["route"].update(
            timeout="0s", idle_timeout="0s", upgrade_configs=[{"upgrade_type": "websocket"}]
        )
        return self.unbuffered(route)  # an upgraded connection's body never ends

    @staticmethod
    def unbuffered(route: dict[str, Any]) -> dict[str, Any]:
        """`route` without the body limit, for a request body that stays open (a WebSocket, the
        reflection's bidirectional stream): the buffer filter would wait for its end forever."""
        route["typed_per_filter_config"]["envoy.filters.http.buffer"] = typed(BUFFER_PER_ROUTE, disabled=True)
        return route


def rate_limit_bucket(limit: RateLimit, prefix: str) -> dict[str, Any]:
    """The per-route config of the local_ratelimit filter: always enabled and enforced; over the
    limit, REST gets 429 and gRPC RESOURCE_EXHAUSTED."""
    return typed(
        "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix=prefix,
        token_bucket={"max_tokens": limit.burst, "tokens_per_fill": limit.per_second, "fill_interval": "1s"},
        filter_enabled=_always(f"{prefix}_enabled"),
        filter_enforced=_always(f"{prefix}_enforced"),
        rate_limited_as_resource_exhausted=True,
        response_headers_to_add=[
            {
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                "header": {"key": "x-ratelimit-limited", "value": "true"},
            }
        ],
    )


BUFFER_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute"


def body_size_limit(max_request_bytes: int) -> dict[str, Any]:
    """The per-route config of the buffer filter: the whole request body is read (up to the
    limit) before it goes on; past the limit the edge answers 413 itself."""
    return typed(BUFFER_PER_ROUTE, buffer={"max_request_bytes": max_request_bytes})


def _always(runtime_key: str) -> dict[str, Any]:
    return {"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": runtime_key}
