"""Renders the one Envoy configuration used by local runs, tests, benchmarks and Kubernetes.

Routes, retries and which calls need a token are derived from the contracts (the descriptor
set): each RPC is routed to the service that owns its package, reads marked
`idempotency_level = NO_SIDE_EFFECTS` are retried, and RPCs whose AccessRule is `public`
skip JWT validation. Only addresses and limits differ per profile.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2
from pydantic import Field

from service_runtime.config import CommonSettings
from service_runtime.proto_index import http_bindings, is_public

ROOT = Path(__file__).resolve().parent.parent
LUA_REST_ERRORS = ROOT / "envoy" / "rest_errors.lua"

# Which upstream serves which proto package (longest prefix wins).
PACKAGE_UPSTREAMS = {"trading.ml.": "ml_engine", "trading.market.": "ml_engine", "trading.": "business"}
# Public plain-HTTP paths served by the gateway (everything else there needs a token).
GATEWAY_PUBLIC_PREFIXES = ("/.well-known/", "/api/auth/", "/api/docs", "/assets/", "/healthz")
# WS /ws/{symbol} (gateway/ws_bridge.py) verifies the token itself, as the header or the
# `access_token` query parameter, and refuses with WebSocket close code 1008 and a reason: a
# handshake refused here with HTTP 401 would show a browser nothing (the WebSocket API hides the
# status). So jwt_authn lets the path through; the rate limit and the request id still apply.
WEBSOCKET_PREFIX = "/ws/"


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int


@dataclass(frozen=True)
class RateLimit:
    """Token bucket: `burst` requests at once, refilled by `per_second`."""

    burst: int
    per_second: int


@dataclass
class EdgeSettings:
    listen_host: str = "0.0.0.0"
    listen_port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int = 9901
    business: Upstream = field(default_factory=lambda: Upstream("127.0.0.1", 50051))
    ml_engine: Upstream = field(default_factory=lambda: Upstream("127.0.0.1", 50052))
    gateway: Upstream = field(default_factory=lambda: Upstream("127.0.0.1", 8000))
    descriptor_set: Path = ROOT / "gen" / "descriptor" / "trading.binpb"
    # Where Envoy itself finds the descriptor set, when not at `descriptor_set` (k8s: a ConfigMap).
    descriptor_path_in_envoy: str = ""
    cors_origins: tuple[str, ...] = ("http://localhost:5173", "http://127.0.0.1:5173")
    jwt_issuer: str = "trading-platform"
    jwt_audience: str = "trading-api"
    jwks_cache_s: int = 300
    # Per-upstream limits; reads of the ML engine are the costly ones.
    rate_limits: dict[str, RateLimit] = field(
        default_factory=lambda: {
            "business": RateLimit(burst=2000, per_second=1000),
            "ml_engine": RateLimit(burst=1000, per_second=500),
            "gateway": RateLimit(burst=500, per_second=200),
        }
    )
    # Per-upstream route timeouts; the seed bounds ML calls at 30 s.
    timeouts_s: dict[str, float] = field(
        default_factory=lambda: {"business": 10.0, "ml_engine": 30.0, "gateway": 15.0}
    )


@dataclass(frozen=True)
class Rpc:
    path: str  # /package.Service/Method
    upstream: str
    http_path: str  # REST path template, "" when the RPC has none
    read: bool
    public: bool = False  # its AccessRule says no token is needed
    server_streaming: bool = False


def upstream_of(package: str) -> str:
    for prefix in sorted(PACKAGE_UPSTREAMS, key=len, reverse=True):
        if (package + ".").startswith(prefix):
            return PACKAGE_UPSTREAMS[prefix]
    raise ValueError(f"no upstream owns package {package}")


def load_rpcs(descriptor_set: Path) -> list[Rpc]:
    fds = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    rpcs = []
    for file in fds.file:
        if not file.package.startswith("trading."):
            continue
        for service in file.service:
            for method in service.method:
                bindings = http_bindings(method)
                rpcs.append(
                    Rpc(
                        path=f"/{file.package}.{service.name}/{method.name}",
                        upstream=upstream_of(file.package),
                        http_path=bindings[0].template if bindings else "",
                        read=method.options.idempotency_level == descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS,
                        public=is_public(method),
                        server_streaming=method.server_streaming,
                    )
                )
    return rpcs


def _typed(type_url: str, **fields: Any) -> dict[str, Any]:
    return {"@type": type_url, **fields}


def _bucket(limit: RateLimit, prefix: str) -> dict[str, Any]:
    return _typed(
        "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        stat_prefix=prefix,
        token_bucket={"max_tokens": limit.burst, "tokens_per_fill": limit.per_second, "fill_interval": "1s"},
        filter_enabled={
            "default_value": {"numerator": 100, "denominator": "HUNDRED"},
            "runtime_key": f"{prefix}_enabled",
        },
        filter_enforced={
            "default_value": {"numerator": 100, "denominator": "HUNDRED"},
            "runtime_key": f"{prefix}_enforced",
        },
        rate_limited_as_resource_exhausted=True,
        response_headers_to_add=[
            {
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                "header": {"key": "x-ratelimit-limited", "value": "true"},
            }
        ],
    )


def _route(match: dict[str, Any], cluster: str, edge: EdgeSettings, *, retry: bool) -> dict[str, Any]:
    action: dict[str, Any] = {"cluster": cluster, "timeout": f"{edge.timeouts_s[cluster]}s"}
    if retry:
        action["retry_policy"] = {
            "retry_on": "connect-failure,refused-stream,reset,unavailable",
            "num_retries": 2,
            "per_try_timeout": f"{edge.timeouts_s[cluster]}s",
            "retry_back_off": {"base_interval": "0.025s", "max_interval": "0.25s"},
        }
    return {
        "match": match,
        "route": action,
        "typed_per_filter_config": {
            "envoy.filters.http.local_ratelimit": _bucket(edge.rate_limits[cluster], f"rl_{cluster}")
        },
    }


def _streaming_route(rpc: Rpc, edge: EdgeSettings) -> dict[str, Any]:
    """A server stream lives as long as its client wants: the route timeout (which for gRPC
    runs until the whole response is in) would cut every stream. With grpc_timeout_header_max
    0 a gRPC or gRPC-Web call is bounded by its own grpc-timeout (none: unbounded) instead of
    the route timeout, and the idle timeout is off since bars may be an hour apart. Unary
    calls keep the route timeout; a stream is never retried (it may have sent messages)."""
    route = _route({"path": rpc.path}, rpc.upstream, edge, retry=False)
    route["route"]["max_stream_duration"] = {"grpc_timeout_header_max": "0s"}
    route["route"]["idle_timeout"] = "0s"
    return route


def _websocket_route(edge: EdgeSettings) -> dict[str, Any]:
    """WS /ws/{symbol} to the gateway's bridge: upgraded, never timed out (a prediction stream
    is long-lived and may be idle for an hour between bars), never retried."""
    route = _route({"prefix": WEBSOCKET_PREFIX}, "gateway", edge, retry=False)
    route["route"].update(timeout="0s", idle_timeout="0s", upgrade_configs=[{"upgrade_type": "websocket"}])
    return route


def _routes(rpcs: list[Rpc], edge: EdgeSettings) -> list[dict[str, Any]]:
    grpc_only: dict[str, Any] = {"grpc": {}}
    routes = [_streaming_route(rpc, edge) for rpc in rpcs if rpc.server_streaming]
    # Reads get their own exact route so only they are retried.
    routes += [
        _route({"path": rpc.path}, rpc.upstream, edge, retry=True)
        for rpc in rpcs
        if rpc.read and not rpc.server_streaming
    ]
    for package_prefix in sorted(PACKAGE_UPSTREAMS, key=len, reverse=True):
        routes.append(
            _route({"prefix": "/" + package_prefix}, PACKAGE_UPSTREAMS[package_prefix], edge, retry=False)
        )
    # Server reflection for ops (`buf curl` through the edge) is answered by business,
    # which links every contract of the platform; it needs a token like any other call.
    routes.append(_route({"prefix": "/grpc.reflection.", **grpc_only}, "business", edge, retry=False))
    # OAuth callbacks spend their single-use state: a retry would only fail, so none.
    routes.append(_route({"prefix": "/api/auth/oauth/"}, "gateway", edge, retry=False))
    routes.append(_websocket_route(edge))
    routes.append(_route({"prefix": "/"}, "gateway", edge, retry=True))
    return routes


def _jwt_rules(rpcs: list[Rpc]) -> list[dict[str, Any]]:
    # Public RPCs are the ones whose proto AccessRule says so (REST calls are matched on their
    # gRPC path: the transcoder runs first). Everything else needs a valid token.
    public = [{"match": {"path": rpc.path}} for rpc in rpcs if rpc.public]
    public += [{"match": {"prefix": prefix}} for prefix in GATEWAY_PUBLIC_PREFIXES]
    public += [{"match": {"prefix": WEBSOCKET_PREFIX}}]  # verified by the bridge itself
    # The web app's own files (index.html and the SPA routes) are public too; API calls
    # from it go through the transcoded or gRPC routes above.
    public += [{"match": {"path": "/"}}, {"match": {"path": "/favicon.ico"}}]
    protected = [
        {"match": {"prefix": "/trading."}, "requires": {"provider_name": "platform"}},
        {"match": {"prefix": "/grpc.reflection."}, "requires": {"provider_name": "platform"}},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "platform"}},
    ]
    return public + protected


def _cluster(name: str, upstream: Upstream, *, http2: bool) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STRICT_DNS",
        "connect_timeout": "1s",
        "dns_lookup_family": "V4_ONLY",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {"address": upstream.host, "port_value": upstream.port}
                                }
                            }
                        }
                    ]
                }
            ],
        },
        "outlier_detection": {
            "consecutive_5xx": 5,
            "consecutive_gateway_failure": 3,
            "interval": "2s",
            "base_ejection_time": "2s",
            "max_ejection_time": "10s",
            "max_ejection_percent": 100,
        },
    }
    if http2:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _typed(
                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                explicit_http_config={"http2_protocol_options": {}},
            )
        }
    return cluster


def _cors(edge: EdgeSettings) -> dict[str, Any]:
    return _typed(
        "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
        allow_origin_string_match=[{"exact": origin} for origin in edge.cors_origins],
        allow_methods="GET, POST, PUT, PATCH, DELETE, OPTIONS",
        allow_headers="authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, "
        "connect-protocol-version, connect-timeout-ms, x-request-id",
        expose_headers="grpc-status, grpc-message, grpc-status-details-bin, x-request-id",
        max_age="600",
    )


def _ml_path_prefixes(rpcs: list[Rpc]) -> list[str]:
    """REST path prefixes served by the ML engine, for the seed's 'ML service unavailable'."""
    paths = {"/trading.ml.", "/trading.market."}
    for rpc in rpcs:
        if rpc.upstream == "ml_engine" and rpc.http_path:
            paths.add(rpc.http_path.split("{", 1)[0])
    return sorted(paths)


# Local replies (no token, rate limited, bad request, upstream down) answer JSON to REST
# callers. gRPC and gRPC-Web callers are left alone: Envoy gives them the matching
# grpc-status, and a JSON body would only end up inside grpc-message.
_LOCAL_REPLY_ERRORS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}


def _local_reply_config() -> dict[str, Any]:
    # Transcoded REST calls look like gRPC by now; the transcoder left the original path.
    rest = {
        "or_filter": {
            "filters": [
                {
                    "header_filter": {
                        "header": {
                            "name": "content-type",
                            "string_match": {"prefix": "application/grpc"},
                            "invert_match": True,
                        }
                    }
                },
                {"header_filter": {"header": {"name": "x-envoy-original-path", "present_match": True}}},
            ]
        }
    }
    mappers = [
        {
            "filter": {
                "and_filter": {
                    "filters": [
                        {
                            "status_code_filter": {
                                "comparison": {
                                    "op": "EQ",
                                    "value": {"default_value": code, "runtime_key": f"local_reply_{code}"},
                                }
                            }
                        },
                        rest,
                    ]
                }
            },
            "body_format_override": {
                "json_format": {
                    "error": error,
                    "message": "%LOCAL_REPLY_BODY%",
                    "request_id": "%REQ(X-REQUEST-ID)%",
                }
            },
        }
        for code, error in _LOCAL_REPLY_ERRORS.items()
    ]
    return {"mappers": mappers}


def render(edge: EdgeSettings) -> dict[str, Any]:
    rpcs = load_rpcs(edge.descriptor_set)
    services = sorted({rpc.path.split("/")[1] for rpc in rpcs})
    lua_prefixes = ", ".join(json.dumps(p) for p in _ml_path_prefixes(rpcs))
    lua_code = f"ML_PATH_PREFIXES = {{{lua_prefixes}}}\n" + LUA_REST_ERRORS.read_text()
    http_filters = [
        {
            "name": "envoy.filters.http.cors",
            "typed_config": _typed("type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"),
        },
        {
            "name": "envoy.filters.http.lua",
            "typed_config": _typed(
                "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                default_source_code={"inline_string": lua_code},
            ),
        },
        {
            "name": "envoy.filters.http.grpc_web",
            "typed_config": _typed("type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"),
        },
        # Transcode first so the checks below and the routes see one kind of request: gRPC.
        {
            "name": "envoy.filters.http.grpc_json_transcoder",
            "typed_config": _typed(
                "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
                proto_descriptor=edge.descriptor_path_in_envoy or str(edge.descriptor_set),
                services=services,
                convert_grpc_status=True,
                print_options={
                    "add_whitespace": False,
                    "always_print_primitive_fields": True,
                    "preserve_proto_field_names": False,
                },
                request_validation_options={
                    "reject_unknown_method": False,
                    "reject_unknown_query_parameters": True,
                    "reject_binding_body_field_collisions": True,
                },
            ),
        },
        {
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": _typed(
                "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                providers={
                    "platform": {
                        "issuer": edge.jwt_issuer,
                        "audiences": [edge.jwt_audience],
                        "remote_jwks": {
                            "http_uri": {
                                "uri": f"http://{edge.gateway.host}:{edge.gateway.port}/.well-known/jwks.json",
                                "cluster": "gateway",
                                "timeout": "2s",
                            },
                            "cache_duration": f"{edge.jwks_cache_s}s",
                            "async_fetch": {"fast_listener": False, "failed_refetch_duration": "1s"},
                            "retry_policy": {
                                "num_retries": 3,
                                "retry_back_off": {"base_interval": "0.2s", "max_interval": "2s"},
                            },
                        },
                        # Services verify the token again themselves (zero trust), so it travels on.
                        "forward": True,
                    }
                },
                rules=_jwt_rules(rpcs),
                bypass_cors_preflight=True,
            ),
        },
        {
            "name": "envoy.filters.http.local_ratelimit",
            "typed_config": _typed(
                "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                stat_prefix="rl_listener",
            ),
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": _typed("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"),
        },
    ]
    manager = _typed(
        "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="edge",
        codec_type="AUTO",
        generate_request_id=True,
        # A caller's own x-request-id is kept, so its logs and ours line up.
        preserve_external_request_id=True,
        use_remote_address=True,
        route_config={
            "name": "edge",
            "virtual_hosts": [
                {
                    "name": "platform",
                    "domains": ["*"],
                    "routes": _routes(rpcs, edge),
                    "typed_per_filter_config": {"envoy.filters.http.cors": _cors(edge)},
                }
            ],
        },
        http_filters=http_filters,
        local_reply_config=_local_reply_config(),
        access_log=[
            {
                "name": "envoy.access_loggers.stdout",
                "typed_config": _typed(
                    "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
                    log_format={
                        "json_format": {
                            "ts": "%START_TIME%",
                            "service": "envoy",
                            "method": "%REQ(:METHOD)%",
                            "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                            "status": "%RESPONSE_CODE%",
                            "grpc_status": "%GRPC_STATUS%",
                            "duration_ms": "%DURATION%",
                            "upstream": "%UPSTREAM_CLUSTER%",
                            "flags": "%RESPONSE_FLAGS%",
                            "request_id": "%REQ(X-REQUEST-ID)%",
                        }
                    },
                ),
            }
        ],
    )
    return {
        "admin": {"address": {"socket_address": {"address": edge.admin_host, "port_value": edge.admin_port}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "edge",
                    "address": {
                        "socket_address": {"address": edge.listen_host, "port_value": edge.listen_port}
                    },
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": manager,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                _cluster("business", edge.business, http2=True),
                _cluster("ml_engine", edge.ml_engine, http2=True),
                _cluster("gateway", edge.gateway, http2=False),
            ],
        },
    }


def write(edge: EdgeSettings, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(render(edge), indent=2))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Render the Envoy config (JSON, valid YAML).")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "envoy" / "envoy.json")
    parser.add_argument(
        "--descriptor-path", default="", help="where Envoy will find the descriptor set (k8s)"
    )
    args = parser.parse_args()
    edge = EdgeEnvSettings().edge()
    edge.descriptor_path_in_envoy = args.descriptor_path
    print(write(edge, args.out))


class EdgeEnvSettings(CommonSettings):
    """The environment variables that shape the rendered Envoy config."""

    envoy_host: str = Field("0.0.0.0", description="interface of Envoy's public listener")
    envoy_port: int = Field(8080, description="Envoy's public port (REST, gRPC-Web, gRPC)")
    envoy_admin_port: int = Field(9901, description="Envoy admin port, bound to loopback only")
    cors_allowed_origins: str = Field(
        "http://localhost:5173,http://127.0.0.1:5173,http://localhost:8000,http://127.0.0.1:8000",
        description="comma-separated browser origins allowed by CORS",
    )
    business_host: str = Field("127.0.0.1", description="host of the business service, as Envoy sees it")
    business_grpc_port: int = Field(50051, description="business service gRPC port")
    ml_host: str = Field("127.0.0.1", description="host of the ML engine, as Envoy sees it")
    ml_grpc_port: int = Field(50052, description="ML engine gRPC port")
    gateway_upstream_host: str = Field("127.0.0.1", description="host of the gateway, as Envoy sees it")
    gateway_port: int = Field(8000, description="gateway HTTP port")
    rate_limit_scale: float = Field(
        1.0, gt=0, description="multiplies every route's rate limit (tests use a tiny value)"
    )

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> EdgeEnvSettings:
        """Settings from `env` (a child's environment) rather than this process's own."""
        fields = {name.upper(): name for name in cls.model_fields}
        given: dict[str, Any] = {
            fields[key.upper()]: value for key, value in env.items() if key.upper() in fields
        }
        return cls(**given)

    def edge(self) -> EdgeSettings:
        edge = EdgeSettings(
            listen_host=self.envoy_host,
            listen_port=self.envoy_port,
            admin_port=self.envoy_admin_port,
            business=Upstream(self.business_host, self.business_grpc_port),
            ml_engine=Upstream(self.ml_host, self.ml_grpc_port),
            gateway=Upstream(self.gateway_upstream_host, self.gateway_port),
            cors_origins=tuple(o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()),
            jwt_issuer=self.jwt_issuer,
            jwt_audience=self.jwt_audience,
        )
        edge.rate_limits = {
            name: RateLimit(
                max(1, int(limit.burst * self.rate_limit_scale)),
                max(1, int(limit.per_second * self.rate_limit_scale)),
            )
            for name, limit in edge.rate_limits.items()
        }
        return edge


if __name__ == "__main__":
    main()
