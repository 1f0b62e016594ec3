"""The one public listener: an HTTP connection manager with the filters (http_filters.py), the
routes (routes.py), the request id, the header size limit, Envoy's own error replies in the REST
error envelope, and a JSON access log on stdout.

The envelope every REST error answer of the edge has (docs: README, "Errors"):
`{"error": "<stable code>", "message": "<text for people>", "details": [...], "request_id": "..."}`.
Envoy's own replies (no token, rate limited, too large, timed out, upstream down, ...) get it from
`local_reply_config` here; a service's error (google.rpc.Status from the transcoder) is rewritten
into it by envoy/rest_errors.lua; the gateway answers it itself (gateway/errors.py). gRPC and
gRPC-Web callers get their grpc-status instead: a JSON body would only end up in grpc-message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envoy.http_filters import http_filters
from envoy.routes import WEBSOCKET_PREFIX, route_config
from envoy.rpcs import Rpc, ml_packages
from envoy.settings import EdgeSettings
from envoy.typed import socket_address, typed

# Request headers, URL included, a client may send (KiB); more is refused with 431. Envoy forwards
# the URL of a transcoded call twice (:path and x-envoy-original-path): the services accept 32 KiB
# of gRPC metadata (service_runtime/server.py), so what passes here always fits there.
MAX_REQUEST_HEADERS_KB = 8
# A client's own x-request-id is not the request id (Envoy makes a fresh one for every request and
# returns it); it travels on as this header and is logged beside the request id.
CLIENT_REQUEST_ID_HEADER = "x-client-request-id"

# Without ranges Envoy would count loopback and private addresses as internal: one range that no
# peer ever has (the unspecified address) makes none internal.
NO_ADDRESS = {"address_prefix": "0.0.0.0", "prefix_len": 32}

# gRPC status codes by number, for the grpc-status of Envoy's own replies.
INVALID_ARGUMENT, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE = 3, 4, 8, 14


@dataclass(frozen=True)
class LocalReply:
    """How Envoy's own reply with one HTTP status reads: the envelope's `error` and `message`
    (None: Envoy's text, which names the problem without internals) and the gRPC status it stands
    for (None: Envoy's default mapping of the HTTP status)."""

    error: str
    message: str | None = None
    grpc_status: int | None = None


SEED_UNAVAILABLE_MESSAGE = "Please try again later"
LOCAL_REPLIES = {
    # The transcoder's parse errors (bad JSON, unknown query parameter, wrong type) name the field.
    400: LocalReply("invalid_argument", grpc_status=INVALID_ARGUMENT),
    # jwt_authn: "Jwt is missing", "Jwt is expired", "Jwt verification fails", ...
    401: LocalReply("unauthenticated"),
    403: LocalReply("permission_denied"),
    404: LocalReply("not_found", "no such route"),
    408: LocalReply("deadline_exceeded", "the request was not received in time", DEADLINE_EXCEEDED),
    413: LocalReply(
        "payload_too_large", "the request body is larger than this route accepts", RESOURCE_EXHAUSTED
    ),
    429: LocalReply("rate_limited", "too many requests: slow down and try again", RESOURCE_EXHAUSTED),
    431: LocalReply("headers_too_large", "the request's URL or headers are too long"),
    500: LocalReply("internal", "internal error"),
    502: LocalReply("unavailable", SEED_UNAVAILABLE_MESSAGE, UNAVAILABLE),
    # 503 is the seed's {"error": "ML service unavailable", ...}: see _unavailable_replies.
    504: LocalReply("deadline_exceeded", "the service did not answer in time", DEADLINE_EXCEEDED),
}
# Any other status Envoy itself answers with.
OTHER_LOCAL_REPLY = LocalReply("unknown", "the request could not be served")


def _header(name: str, **match: Any) -> dict[str, Any]:
    return {"header_filter": {"header": {"name": name, **match}}}


# A gRPC or gRPC-Web call (the grpc_web filter has turned the latter into gRPC by now)...
GRPC_CONTENT_TYPE = {"string_match": {"prefix": "application/grpc"}}
# ...unless transcoded: the transcoder sets the same content type but keeps the REST path.
TRANSCODED = _header("x-envoy-original-path", present_match=True)
REST_CALL = {
    "or_filter": {
        "filters": [
            # A missing content type (a GET) counts as "not gRPC", hence REST.
            _header(
                "content-type", **GRPC_CONTENT_TYPE, invert_match=True, treat_missing_header_as_empty=True
            ),
            TRANSCODED,
        ]
    }
}
GRPC_CALL = {
    "and_filter": {
        "filters": [
            _header("content-type", **GRPC_CONTENT_TYPE),
            _header("x-envoy-original-path", present_match=False),
        ]
    }
}
ACCESS_LOG_FIELDS = {
    "ts": "%START_TIME%",
    "service": "envoy",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "status": "%RESPONSE_CODE%",
    # A transcoded REST answer carries its service's status as grpc-status (rest_errors.lua), so
    # this is the service's, not one guessed from the HTTP status (400 is not "Internal").
    "grpc_status": "%GRPC_STATUS%",
    "duration_ms": "%DURATION%",
    "upstream": "%UPSTREAM_CLUSTER%",
    "flags": "%RESPONSE_FLAGS%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "client_request_id": f"%REQ({CLIENT_REQUEST_ID_HEADER.upper()})%",
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
        max_request_headers_kb=MAX_REQUEST_HEADERS_KB,
        use_remote_address=True,
        # No caller is "internal", loopback ones included: every request is an edge request, so
        # Envoy replaces a client's x-request-id and x-envoy-external-address (the gateway trusts
        # the latter: dev tokens for loopback callers only) and drops other x-envoy-* headers.
        internal_address_config={"cidr_ranges": [NO_ADDRESS]},
        # The edge assigns the request id (never the client) and tells the client which it is.
        early_header_mutation_extensions=[_keep_client_request_id()],
        generate_request_id=True,
        preserve_external_request_id=False,
        always_set_request_id_in_response=True,
        http_filters=http_filters(edge, rpcs),
        route_config=route_config(edge, rpcs),
        local_reply_config={"mappers": _local_reply_mappers()},
        access_log=_access_logs(),
    )


def _keep_client_request_id() -> dict[str, Any]:
    """Before Envoy replaces it, a client's x-request-id is copied to x-client-request-id (unless
    the client sent that header itself)."""
    copy = {
        "append": {
            "header": {"key": CLIENT_REQUEST_ID_HEADER, "value": "%REQ(X-REQUEST-ID)%"},
            "append_action": "ADD_IF_ABSENT",
        }
    }
    return {
        "name": "envoy.http.early_header_mutation.header_mutation",
        "typed_config": typed(
            "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation",
            mutations=[copy],
        ),
    }


def _local_reply_mappers() -> list[dict[str, Any]]:
    """The first mapper whose filter matches shapes a local reply: gRPC calls get the grpc-status
    their HTTP status stands for, REST calls the envelope."""
    grpc = [
        _grpc_status(code, reply.grpc_status, reply.message or reply.error.replace("_", " "))
        for code, reply in LOCAL_REPLIES.items()
        if reply.grpc_status is not None
    ]
    rest = [_rest_reply(_status_is(code), reply) for code, reply in LOCAL_REPLIES.items()]
    error_status = {
        "comparison": {"op": "GE", "value": {"default_value": 400, "runtime_key": "local_reply_ge_400"}}
    }
    return [
        *grpc,
        *_unavailable_replies(),
        *rest,
        _rest_reply({"status_code_filter": error_status}, OTHER_LOCAL_REPLY),
    ]


def _status_is(code: int) -> dict[str, Any]:
    value = {"default_value": code, "runtime_key": f"local_reply_{code}"}
    return {"status_code_filter": {"comparison": {"op": "EQ", "value": value}}}


def _grpc_status(code: int, grpc_status: int, message: str) -> dict[str, Any]:
    """A gRPC or gRPC-Web caller's local reply with HTTP status `code` ends with `grpc_status`.
    Sent as HTTP 200: the grpc_web filter would replace the grpc-status of any other answer with
    one of its own, made from the HTTP status (413 would read UNKNOWN)."""
    headers = {"grpc-status": str(grpc_status), "grpc-message": message}
    return {
        "filter": {"and_filter": {"filters": [_status_is(code), GRPC_CALL]}},
        "status_code": 200,
        "body_format_override": {
            "text_format_source": {"inline_string": ""},
            "content_type": "application/grpc",
        },
        "headers_to_add": [
            {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for key, value in headers.items()
        ],
    }


def _unavailable_replies() -> list[dict[str, Any]]:
    """The seed's 503 for REST: "ML service unavailable" for the ML engine's RPCs (by now a
    transcoded call's :path is its gRPC method), "Service unavailable" for the rest."""
    ml_calls = {
        "or_filter": {"filters": [_header(":path", string_match={"prefix": p}) for p in ml_packages()]}
    }
    ml = LocalReply("ML service unavailable", SEED_UNAVAILABLE_MESSAGE)
    other = LocalReply("Service unavailable", SEED_UNAVAILABLE_MESSAGE)
    return [
        _rest_reply({"and_filter": {"filters": [_status_is(503), ml_calls]}}, ml),
        _rest_reply(_status_is(503), other),
    ]


def _rest_reply(status_filter: dict[str, Any], reply: LocalReply) -> dict[str, Any]:
    """A REST caller's local reply matching `status_filter` gets the envelope of `reply`."""
    mapper: dict[str, Any] = {
        "filter": {"and_filter": {"filters": [status_filter, REST_CALL]}},
        "body_format_override": {
            "json_format": {
                "error": reply.error,
                "message": reply.message or "%LOCAL_REPLY_BODY%",
                "details": [],
                "request_id": "%REQ(X-REQUEST-ID)%",
            }
        },
    }
    if reply.grpc_status is not None:  # for the access log's grpc_status, as rest_errors.lua does
        header = {"key": "grpc-status", "value": str(reply.grpc_status)}
        mapper["headers_to_add"] = [{"header": header, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]
    return mapper


def _access_logs() -> list[dict[str, Any]]:
    """One line per request. A WebSocket's line has its path without the query: a browser's socket
    carries its access token there (?access_token=, gateway/ws_bridge.py), never to be logged."""
    websocket = {"name": ":path", "string_match": {"prefix": WEBSOCKET_PREFIX}}
    return [
        _access_log(ACCESS_LOG_FIELDS, {"header_filter": {"header": {**websocket, "invert_match": True}}}),
        _access_log(
            ACCESS_LOG_FIELDS | {"path": "%PATH(NQ:ORIG_OR_PATH)%"}, {"header_filter": {"header": websocket}}
        ),
    ]


def _access_log(fields: dict[str, str], only: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "envoy.access_loggers.stdout",
        "filter": only,
        "typed_config": typed(
            "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            log_format={"json_format": fields},
        ),
    }
