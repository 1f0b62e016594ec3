"""The routes: where each request goes, with its timeout, retries and rate limit.

First match wins, top to bottom: server streams (no route timeout), reads (retried), every
other RPC by its package, server reflection, the OAuth callbacks, the WebSocket bridge, and the
gateway for everything else (JWKS, API docs, the web app).
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
    "connect-protocol-version, connect-timeout-ms, x-request-id"
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
# Per-upstream route timeouts; the seed bounds ML calls at 30 s.
TIMEOUTS_S = {"business": 10.0, "ml_engine": 30.0, "gateway": 15.0}
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
    )


def routes(edge: EdgeSettings, rpcs: list[Rpc]) -> list[dict[str, Any]]:
    to = _Routes(edge.rate_limit_scale)
    return [
        *[to.stream(rpc) for rpc in rpcs if rpc.server_streaming],
        # Reads get their own exact route so only they are retried.
        *[to.upstream({"path": rpc.path}, rpc.upstream, retry=True) for rpc in rpcs if _unary_read(rpc)],
        *[to.upstream({"prefix": "/" + p}, PACKAGE_UPSTREAMS[p]) for p in packages_longest_first()],
        # Server reflection for ops (`buf curl` through the edge) is answered by business, which
        # links every contract of the platform; it needs a token like any other call.
        to.upstream({"prefix": "/grpc.reflection.", "grpc": {}}, "business"),
        # OAuth callbacks spend their single-use state: a retry would only fail, so none.
        to.upstream({"prefix": "/api/auth/oauth/"}, "gateway"),
        to.websocket(),
        to.upstream({"prefix": "/"}, "gateway", retry=True),
    ]


def _unary_read(rpc: Rpc) -> bool:
    return rpc.read and not rpc.server_streaming


class _Routes:
    """Builds routes to the upstreams, each with its timeout and its rate-limit bucket."""

    def __init__(self, rate_limit_scale: float) -> None:
        self.rate_limit_scale = rate_limit_scale

    def upstream(self, match: dict[str, Any], cluster: str, *, retry: bool = False) -> dict[str, Any]:
        timeout = f"{TIMEOUTS_S[cluster]}s"
        action: dict[str, Any] = {"cluster": cluster, "timeout": timeout}
        if retry:
            action["retry_policy"] = {
                "retry_on": RETRY_ON,
                "num_retries": 2,
                "per_try_timeout": timeout,
                "retry_back_off": RETRY_BACK_OFF,
            }
        bucket = rate_limit_bucket(RATE_LIMITS[cluster].scaled(self.rate_limit_scale), f"rl_{cluster}")
        return {
            "match": match,
            "route": action,
            "typed_per_filter_config": {"envoy.filters.http.local_ratelimit": bucket},
        }

    def stream(self, rpc: Rpc) -> dict[str, Any]:
        """A server stream lives as long as its client wants: the route timeout (which for gRPC
        runs until the whole response is in) would cut every stream. With grpc_timeout_header_max
        0 a gRPC or gRPC-Web call is bounded by its own grpc-timeout (none: unbounded) instead of
        the route timeout, and the idle timeout is off since bars may be an hour apart. A stream
        is never retried (it may have sent messages)."""
        route = self.upstream({"path": rpc.path}, rpc.upstream)
        route["route"].update(max_stream_duration={"grpc_timeout_header_max": "0s"}, idle_timeout="0s")
        return route

    def websocket(self) -> dict[str, Any]:
        """WS /ws/{symbol} to the gateway's bridge: upgraded, never timed out (a prediction stream
        is long-lived and may be idle for an hour between bars), never retried."""
        route = self.upstream({"prefix": WEBSOCKET_PREFIX}, "gateway")
        route["route"].update(
            timeout="0s", idle_timeout="0s", upgrade_configs=[{"upgrade_type": "websocket"}]
        )
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


def _always(runtime_key: str) -> dict[str, Any]:
    return {"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": runtime_key}
