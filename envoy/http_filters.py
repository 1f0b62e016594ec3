"""The HTTP filters every request passes, in order: CORS, the REST error bodies (Lua), gRPC-Web,
REST transcoding, JWT validation, the rate limit, and the router.

Transcoding comes before the checks, so they and the routes see one kind of request: gRPC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envoy.routes import WEBSOCKET_PREFIX
from envoy.rpcs import Rpc, ml_path_prefixes
from envoy.settings import EdgeSettings
from envoy.typed import typed

LUA_REST_ERRORS = Path(__file__).resolve().parent / "rest_errors.lua"
# Public plain-HTTP paths served by the gateway (everything else there needs a token).
GATEWAY_PUBLIC_PREFIXES = ("/.well-known/", "/api/auth/", "/api/docs", "/assets/", "/healthz")
# How long Envoy keeps the JWKS (s); a rotated key signs only after it has been published this long.
JWKS_CACHE_S = 300


def http_filters(edge: EdgeSettings, rpcs: list[Rpc]) -> list[dict[str, Any]]:
    return [
        _filter("cors", "cors.v3.Cors"),
        _filter("lua", "lua.v3.Lua", default_source_code={"inline_string": _rest_errors_lua(rpcs)}),
        _filter("grpc_web", "grpc_web.v3.GrpcWeb"),
        _filter(
            "grpc_json_transcoder", "grpc_json_transcoder.v3.GrpcJsonTranscoder", **_transcoder(edge, rpcs)
        ),
        _filter("jwt_authn", "jwt_authn.v3.JwtAuthentication", **_jwt_authn(edge, rpcs)),
        # Buckets are per route (routes.py); this only turns the filter on.
        _filter("local_ratelimit", "local_ratelimit.v3.LocalRateLimit", stat_prefix="rl_listener"),
        _filter("router", "router.v3.Router"),
    ]


def _filter(name: str, config_type: str, **fields: Any) -> dict[str, Any]:
    """`envoy.filters.http.<name>` with its config `envoy.extensions.filters.http.<config_type>`."""
    return {
        "name": f"envoy.filters.http.{name}",
        "typed_config": typed(f"type.googleapis.com/envoy.extensions.filters.http.{config_type}", **fields),
    }


def _rest_errors_lua(rpcs: list[Rpc]) -> str:
    """REST callers of an unavailable upstream get the seed's JSON body (envoy/rest_errors.lua)."""
    prefixes = ", ".join(json.dumps(prefix) for prefix in ml_path_prefixes(rpcs))
    return f"ML_PATH_PREFIXES = {{{prefixes}}}\n" + LUA_REST_ERRORS.read_text()


def _transcoder(edge: EdgeSettings, rpcs: list[Rpc]) -> dict[str, Any]:
    return {
        "proto_descriptor": edge.envoy_descriptor_set,
        "services": sorted({rpc.service for rpc in rpcs}),
        "convert_grpc_status": True,
        "print_options": {
            "add_whitespace": False,
            "always_print_primitive_fields": True,
            "preserve_proto_field_names": False,
        },
        "request_validation_options": {
            "reject_unknown_method": False,
            "reject_unknown_query_parameters": True,
            "reject_binding_body_field_collisions": True,
        },
    }


def _jwt_authn(edge: EdgeSettings, rpcs: list[Rpc]) -> dict[str, Any]:
    """One provider (the platform's JWKS, served by the gateway) and the rules of who needs it."""
    jwks = {
        "http_uri": {
            "uri": f"http://{edge.gateway.host}:{edge.gateway.port}/.well-known/jwks.json",
            "cluster": "gateway",
            "timeout": "2s",
        },
        "cache_duration": f"{JWKS_CACHE_S}s",
        "async_fetch": {"fast_listener": False, "failed_refetch_duration": "1s"},
        "retry_policy": {"num_retries": 3, "retry_back_off": {"base_interval": "0.2s", "max_interval": "2s"}},
    }
    platform = {
        "issuer": edge.jwt_issuer,
        "audiences": [edge.jwt_audience],
        "remote_jwks": jwks,
        # Services verify the token again themselves (zero trust), so it travels on.
        "forward": True,
    }
    return {"providers": {"platform": platform}, "rules": _jwt_rules(rpcs), "bypass_cors_preflight": True}


def _jwt_rules(rpcs: list[Rpc]) -> list[dict[str, Any]]:
    # Public RPCs are the ones whose proto AccessRule says so (REST calls are matched on their
    # gRPC path: the transcoder runs first). Everything else needs a valid token.
    public = [{"match": {"path": rpc.path}} for rpc in rpcs if rpc.public]
    public += [{"match": {"prefix": prefix}} for prefix in GATEWAY_PUBLIC_PREFIXES]
    # WS /ws/{symbol} verifies the token itself, as the header or the `access_token` query
    # parameter, and refuses with WebSocket close code 1008 and a reason: a handshake refused here
    # with HTTP 401 would show a browser nothing (the WebSocket API hides the status). So jwt_authn
    # lets the path through; the rate limit and the request id still apply.
    public += [{"match": {"prefix": WEBSOCKET_PREFIX}}]
    # The web app's own files (index.html and the SPA routes) are public too; API calls from it
    # go through the transcoded or gRPC routes.
    public += [{"match": {"path": "/"}}, {"match": {"path": "/favicon.ico"}}]
    protected = [
        {"match": {"prefix": prefix}, "requires": {"provider_name": "platform"}}
        for prefix in ("/trading.", "/grpc.reflection.", "/")
    ]
    return public + protected
