"""The one public listener: an HTTP connection manager with the filters (http_filters.py), the
routes (routes.py), JSON bodies for Envoy's own error replies to REST callers, and a JSON access
log on stdout."""

from __future__ import annotations

from typing import Any

from envoy.http_filters import http_filters
from envoy.routes import route_config
from envoy.rpcs import Rpc
from envoy.settings import EdgeSettings
from envoy.typed import socket_address, typed

# Local replies (no token, rate limited, bad request, upstream down) answer JSON to REST
# callers. gRPC and gRPC-Web callers are left alone: Envoy gives them the matching
# grpc-status, and a JSON body would only end up inside grpc-message.
LOCAL_REPLY_ERRORS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    413: "payload_too_large",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}
# A REST call: not gRPC, or transcoded (it looks like gRPC by now, but the transcoder left the
# original path).
REST_CALL = {
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
ACCESS_LOG_FIELDS = {
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


def listener(edge: EdgeSettings, rpcs: list[Rpc]) -> dict[str, Any]:
    manager = {"name": "envoy.filters.network.http_connection_manager", "typed_config": _manager(edge, rpcs)}
    return {
        "name": "edge",
        "address": socket_address(edge.envoy_host, edge.envoy_port),
        "filter_chains": [{"filters": [manager]}],
    }


def _manager(edge: EdgeSettings, rpcs: list[Rpc]) -> dict[str, Any]:
    return typed(
        "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix="edge",
        codec_type="AUTO",
        generate_request_id=True,
        # A caller's own x-request-id is kept, so its logs and ours line up.
        preserve_external_request_id=True,
        use_remote_address=True,
        http_filters=http_filters(edge, rpcs),
        route_config=route_config(edge, rpcs),
        local_reply_config={
            "mappers": [_json_reply(code, error) for code, error in LOCAL_REPLY_ERRORS.items()]
        },
        access_log=[_access_log()],
    )


def _json_reply(code: int, error: str) -> dict[str, Any]:
    """A REST caller's local reply with status `code` gets a JSON body naming `error`."""
    status = {"op": "EQ", "value": {"default_value": code, "runtime_key": f"local_reply_{code}"}}
    return {
        "filter": {"and_filter": {"filters": [{"status_code_filter": {"comparison": status}}, REST_CALL]}},
        "body_format_override": {
            "json_format": {
                "error": error,
                "message": "%LOCAL_REPLY_BODY%",
                "request_id": "%REQ(X-REQUEST-ID)%",
            }
        },
    }


def _access_log() -> dict[str, Any]:
    return {
        "name": "envoy.access_loggers.stdout",
        "typed_config": typed(
            "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            log_format={"json_format": ACCESS_LOG_FIELDS},
        ),
    }
