"""The HTTP filters every request passes, in order: CORS, the REST error envelope (Lua), the refresh
cookie (Lua, refresh_cookie.py), gRPC-Web, REST transcoding, the body size limit (buffer), JWT
validation, the plan check (Lua), the rate limit, and the router.

Transcoding comes before the checks, so they and the routes see one kind of request: gRPC; each
route has its own body limit (routes.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from envoy.refresh_cookie import refresh_cookie_lua
from envoy.routes import MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, RPC_MAX_REQUEST_BYTES
from envoy.rpcs import Rpc, ml_path_prefixes
from envoy.settings import EdgeSettings
from envoy.typed import typed
from service_runtime.caller import PLAN_EXEMPT_ROLES
from service_runtime.errors import PlanRequired

LUA_REST_ERRORS = Path(__file__).resolve().parent / "rest_errors.lua"
LUA_PLAN_CHECK = Path(__file__).resolve().parent / "plan_check.lua"
# Where jwt_authn puts a verified token's payload (namespace envoy.filters.http.jwt_authn).
JWT_PAYLOAD_KEY = "jwt_payload"
# The envelope's stable code of each gRPC status, by number: its name in lower case.
GRPC_CODES = {code.value[0]: code.name.lower() for code in grpc.StatusCode}
# Paths that need a valid token at the edge: every RPC, REST calls included (the transcoder has
# turned them into RPCs by then), except the public ones. Whatever else reaches the gateway (the
# web app and its pages, JWKS, API docs, dev tokens, OAuth, the WebSocket bridge, and the 404 of an
# unknown route) is public at the edge; the gateway guards what needs guarding itself.
PROTECTED_PREFIXES = ("/trading.", "/grpc.reflection.")
# How long Envoy keeps the JWKS (s); a rotated key signs only after it has been published this long.
JWKS_CACHE_S = 300


def http_filters(edge: EdgeSettings, rpcs: list[Rpc]) -> list[dict[str, Any]]:
    return [
        _filter("cors", "cors.v3.Cors"),
        _filter("lua", "lua.v3.Lua", default_source_code={"inline_string": _rest_errors_lua(rpcs)}),
        # Before the transcoder, so it sees REST paths too (a second Lua filter needs its own name).
        {
            "name": "trading.refresh_cookie",
            "typed_config": typed(
                "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                default_source_code={"inline_string": refresh_cookie_lua(edge, rpcs)},
            ),
        },
        _filter("grpc_web", "grpc_web.v3.GrpcWeb"),
        _filter(
            "grpc_json_transcoder", "grpc_json_transcoder.v3.GrpcJsonTranscoder", **_transcoder(edge, rpcs)
        ),
        # After the transcoder: a REST call's route is its RPC's by now, with that RPC's limit
        # (routes.py). This is the default of a route that sets none.
        _filter("buffer", "buffer.v3.Buffer", max_request_bytes=min(MAX_REQUEST_BYTES.values())),
        _filter("jwt_authn", "jwt_authn.v3.JwtAuthentication", **_jwt_authn(edge, rpcs)),
        {
            "name": "trading.plan_check",
            "typed_config": typed(
                "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                default_source_code={"inline_string": _plan_check_lua(rpcs)},
            ),
        },
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
    """A service's error to a REST caller in the envelope (envoy/rest_errors.lua)."""
    prefixes = ", ".join(json.dumps(prefix) for prefix in ml_path_prefixes(rpcs))
    codes = ", ".join(f"[{number}] = {json.dumps(name)}" for number, name in GRPC_CODES.items())
    return f"ML_PATH_PREFIXES = {{{prefixes}}}\nGRPC_CODES = {{{codes}}}\n" + LUA_REST_ERRORS.read_text()


def _plan_check_lua(rpcs: list[Rpc]) -> str:
    """The plan check (envoy/plan_check.lua) with each plan-restricted RPC's plans, the status
    details its refusal carries, and the roles no plan check applies to."""
    restricted = [rpc for rpc in rpcs if rpc.plans]
    rules = ", ".join(
        f"[{json.dumps(rpc.path)}] = {{{', '.join(json.dumps(p) for p in rpc.plans)}}}" for rpc in restricted
    )
    details = ", ".join(f"[{json.dumps(rpc.path)}] = {plan_refusal_details(rpc)}" for rpc in restricted)
    exempt = ", ".join(f"[{json.dumps(role)}] = true" for role in sorted(PLAN_EXEMPT_ROLES))
    return (
        f"PLAN_RULES = {{{rules}}}\nPLAN_DETAILS = {{{details}}}\nEXEMPT_ROLES = {{{exempt}}}\n"
        + LUA_PLAN_CHECK.read_text()
    )


def plan_refusal_details(rpc: Rpc) -> str:
    """The `details` of the google.rpc.Status the edge sends when it refuses `rpc` for want of a
    plan (ErrorInfo PLAN_REQUIRED naming the plan, as a service would send it), encoded as that
    field is on the wire and written as a Lua string literal: plan_check.lua puts the code and its
    message in front and sends the whole as grpc-status-details-bin."""
    refusal = PlanRequired(rpc.plans, "")
    del refusal.metadata["current_plan"]  # the token's plan is in the message
    info = error_details_pb2.ErrorInfo(reason=refusal.reason, domain="trading", metadata=refusal.metadata)
    status = status_pb2.Status()
    status.details.add().Pack(info, deterministic=True)  # the rendered config must not vary
    return '"' + "".join(f"\\{byte}" for byte in status.SerializeToString(deterministic=True)) + '"'


def _transcoder(edge: EdgeSettings, rpcs: list[Rpc]) -> dict[str, Any]:
    return {
        "proto_descriptor": edge.envoy_descriptor_set,
        "services": sorted({rpc.service for rpc in rpcs}),
        "convert_grpc_status": True,
        # The JSON the transcoder holds before the route's own limit applies: the largest any
        # route takes. Answers are bounded apart (the route's body limit would bound them too).
        "max_request_body_size": max(RPC_MAX_REQUEST_BYTES.values()),
        "max_response_body_size": MAX_RESPONSE_BYTES,
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
        # The plan check (plan_check.lua) reads the verified `plan` claim from here.
        "payload_in_metadata": JWT_PAYLOAD_KEY,
    }
    return {"providers": {"platform": platform}, "rules": _jwt_rules(rpcs), "bypass_cors_preflight": True}


def _jwt_rules(rpcs: list[Rpc]) -> list[dict[str, Any]]:
    # Public RPCs are the ones whose proto AccessRule says so (REST calls are matched on their
    # gRPC path: the transcoder runs first). Every other RPC needs a valid token. A path matching
    # no rule needs none: the gateway's (PROTECTED_PREFIXES). Among them WS /ws/{symbol}, which
    # verifies the token itself (header or `access_token` query parameter) and refuses with close
    # code 1008 and a reason: a handshake refused here with HTTP 401 would show a browser nothing
    # (the WebSocket API hides the status).
    public = [{"match": {"path": rpc.path}} for rpc in rpcs if rpc.public]
    protected = [
        {"match": {"prefix": prefix}, "requires": {"provider_name": "platform"}}
        for prefix in PROTECTED_PREFIXES
    ]
    return public + protected
