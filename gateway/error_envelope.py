"""The one REST error envelope, as the API docs describe it: its schema, its stable codes and
the error responses of every operation in the generated OpenAPI (gateway/openapi.py).

Who answers it: Envoy for its own replies (envoy/listener.py), Envoy's Lua filter for a service's
error (envoy/rest_errors.lua), and the gateway (gateway/errors.py).
"""

from __future__ import annotations

from typing import Any

SCHEMA_NAME = "Error"
REQUEST_ID_HEADER = "x-request-id"

# Every `error` an answer may carry: its HTTP status and when it is given. A service's gRPC status
# reads as its lower-case name, at the HTTP status Envoy's transcoder maps it to.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_argument": (
        400,
        "a field is invalid (details: google.rpc.BadRequest field violations), the body is not "
        "valid JSON, a query parameter is unknown or of the wrong type",
    ),
    "failed_precondition": (400, "the request is valid but the current state does not allow it"),
    "out_of_range": (400, "a value is past the range the service can serve"),
    "unauthenticated": (401, "no access token, or an invalid, expired or revoked one"),
    "permission_denied": (
        403,
        "the token's role or plan does not allow the call; a token for another audience; a dev "
        "token asked for from another host",
    ),
    "not_found": (404, "no such resource, or no such route"),
    "method_not_allowed": (405, "the route exists, not with this method"),
    "already_exists": (409, "the resource exists already"),
    "aborted": (409, "a concurrent change won; try again"),
    "payload_too_large": (413, "the body is larger than this route accepts (decided at the edge)"),
    "rate_limited": (429, "over the edge's rate limit for this route; slow down"),
    "resource_exhausted": (429, "over a service's own limit (details may carry google.rpc.RetryInfo)"),
    "headers_too_large": (431, "the URL and headers are larger than the edge accepts (8 KiB)"),
    "cancelled": (499, "the call was cancelled"),
    "internal": (500, "an unexpected error; nothing about it is in the answer, the logs have it"),
    "unknown": (500, "an error without a known cause"),
    "data_loss": (500, "unrecoverable data loss"),
    "unimplemented": (501, "the service does not implement this call"),
    "ML service unavailable": (503, "the ML engine cannot be reached: try again later (the seed's answer)"),
    "Service unavailable": (503, "another service cannot be reached: try again later"),
    "unavailable": (503, "something the gateway itself needs is missing (its message says what)"),
    "deadline_exceeded": (
        504,
        "the service did not answer within the route's timeout (ML_SERVICE_TIMEOUT for the ML engine)",
    ),
}

_DETAIL: dict[str, Any] = {
    "type": "object",
    "properties": {"@type": {"type": "string"}},
    "additionalProperties": True,
}


def _codes_table() -> str:
    rows = [f"| `{code}` | {status} | {when} |" for code, (status, when) in ERROR_CODES.items()]
    return "\n".join(["| error | HTTP | when |", "|---|---|---|", *rows])


def schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every error the edge answers to a REST call (gRPC and gRPC-Web callers get "
        "the gRPC status instead).\n\n" + _codes_table(),
        "required": ["error", "message", "details", "request_id"],
        "properties": {
            "error": {"type": "string", "description": "stable code, for programs (table above)"},
            "message": {"type": "string", "description": "what went wrong, for people"},
            "details": {
                "type": "array",
                "items": _DETAIL,
                "description": "google.rpc detail messages as JSON, e.g. BadRequest (fieldViolations), "
                "RetryInfo (retryDelay), ErrorInfo (reason, domain)",
            },
            "request_id": {
                "type": "string",
                "nullable": True,
                "description": "the id the edge gave this request (also the x-request-id response "
                "header); null only when the request could not be read (431)",
            },
        },
    }


def _response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {REQUEST_ID_HEADER: {"description": "the request id", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}}},
    }


# The error responses every operation lists (`default` covers the rest of the table).
RESPONSES = {
    "400": "invalid input: `invalid_argument` (field violations in details), `failed_precondition`",
    "401": "`unauthenticated`",
    "403": "`permission_denied`",
    "404": "`not_found`",
    "413": "`payload_too_large`",
    "429": "`rate_limited` (the edge) or `resource_exhausted` (a service)",
    "431": "`headers_too_large`",
    "503": "`ML service unavailable` / `Service unavailable`",
    "504": "`deadline_exceeded`",
    "default": "any other error of the table in the Error schema",
}


def error_responses() -> dict[str, Any]:
    """The error responses of one operation (a public one too: a wrong password is a 401)."""
    return {status: _response(description) for status, description in RESPONSES.items()}
