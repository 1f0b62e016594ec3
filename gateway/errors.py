"""Every error leaves the gateway in the edge's one error envelope, never HTML:

    {"error": "<stable code>", "message": "<text for people>", "details": [...], "request_id": "..."}

Codes use the gRPC vocabulary (not_found, invalid_argument, unavailable...) so a client sees the
same words whether an answer came from a transcoded RPC, from Envoy or from the gateway; details
are google.rpc detail messages as JSON (BadRequest, ErrorInfo), like a service's. The request id
is the one Envoy assigned (its x-request-id), so the answer, Envoy's access log and the gateway's
log lines agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_runtime.context import REQUEST_ID_HEADER, new_request_id, request_id_var

log = logging.getLogger(__name__)

_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "already_exists",
    429: "resource_exhausted",
    500: "internal",
    501: "unimplemented",
    503: "unavailable",
    504: "deadline_exceeded",
}
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def error_code(status: int) -> str:
    if status in _CODES:
        return _CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "unknown"


def error_response(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: Sequence[dict[str, Any]] = (),
) -> JSONResponse:
    body = {
        "error": error_code(status),
        "message": message,
        "details": list(details),
        "request_id": request_id_var.get(),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def field_violations(violations: Mapping[str, str]) -> dict[str, Any]:
    """A google.rpc.BadRequest detail: field -> what is wrong with it."""
    return {
        "@type": BAD_REQUEST,
        "fieldViolations": [{"field": f, "description": d} for f, d in violations.items()],
    }


def error_info(reason: str, domain: str) -> dict[str, Any]:
    """A google.rpc.ErrorInfo detail: a machine-readable reason and who gave it."""
    return {"@type": ERROR_INFO, "reason": reason, "domain": domain}


class RequestIdMiddleware:
    """Adopts Envoy's x-request-id (a direct call gets a fresh one) for error bodies and logs, and
    answers with it, as Envoy does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        name = REQUEST_ID_HEADER.encode()
        request_id = dict(scope["headers"]).get(name, b"").decode() or new_request_id()
        # Set, not reset after the call: the error handler of the outermost middleware runs
        # after this returns, and every request has a task (and so a context) of its own.
        request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (name, request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    violations = {
        ".".join(str(p) for p in err.get("loc", ())): str(err.get("msg", "")) for err in exc.errors()
    }
    return error_response(
        400, "invalid request: " + ", ".join(violations), details=[field_violations(violations)]
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
