"""Server interceptors shared by every service: request context, metrics and error mapping.

grpc.aio interceptors only see the call before the handler runs, so each one wraps the
handler's behaviour function (unary or streaming) to act around the whole call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import sqlalchemy.exc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from service_runtime import errors
from service_runtime.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from service_runtime.metrics import CallStats

log = logging.getLogger("service_runtime.rpc")

Behavior = Callable[..., Any]
# Wraps (method name, behaviour, is response-streaming) into a new behaviour.
Wrapper = Callable[[str, Behavior, bool], Behavior]


def _rewrap(handler: grpc.RpcMethodHandler, method: str, wrap: Wrapper) -> grpc.RpcMethodHandler:
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap(method, handler.unary_unary, False),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap(method, handler.unary_stream, True),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            wrap(method, handler.stream_unary, False),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        wrap(method, handler.stream_stream, True),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class _WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Applies `wrap` to every handler; subclasses define `around` for unary and streaming."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return _rewrap(handler, handler_call_details.method, self._wrap)

    def _wrap(self, method: str, behavior: Behavior, streaming: bool) -> Behavior:
        if streaming:

            async def stream_behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
                async with self.around(method, context):
                    async for item in behavior(request, context):
                        yield item

            return stream_behavior

        async def unary_behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with self.around(method, context):
                return await behavior(request, context)

        return unary_behavior

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        raise NotImplementedError


class _Around:
    """Async context manager base with an enter hook and an exit hook."""

    async def __aenter__(self) -> Any:
        return None

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        return False


class RequestContextInterceptor(_WrappingInterceptor):
    """Adopts the caller's x-request-id (Envoy sets one) or makes one, and logs each call."""

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _RequestScope(method, context)


class _RequestScope(_Around):
    def __init__(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.method = method
        self.context = context

    async def __aenter__(self) -> None:
        metadata = dict(self.context.invocation_metadata() or ())
        self.request_id = str(metadata.get(REQUEST_ID_HEADER) or new_request_id())
        self.token = request_id_var.set(self.request_id)
        self.started = time.perf_counter()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        code = self.context.code() if exc is None else None
        log.info(
            "rpc finished",
            extra={
                "method": self.method,
                "code": _code_name(code, exc),
                "duration_ms": round((time.perf_counter() - self.started) * 1000, 3),
            },
        )
        request_id_var.reset(self.token)
        return False


def _code_name(code: Any, exc: BaseException | None) -> str:
    if exc is not None:
        return "ABORTED_OR_FAILED"
    if code is None or code == grpc.StatusCode.OK or code == 0:
        return "OK"
    return getattr(code, "name", str(code))


class MetricsInterceptor(_WrappingInterceptor):
    """Counts calls, errors and latency per method (Prometheus and the in-process CallStats)."""

    def __init__(self, stats: CallStats) -> None:
        self.stats = stats

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _MetricsScope(self.stats, method, context)


class _MetricsScope(_Around):
    def __init__(self, stats: CallStats, method: str, context: grpc.aio.ServicerContext) -> None:
        self.stats = stats
        self.method = method
        self.context = context

    async def __aenter__(self) -> None:
        self.started = time.perf_counter()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        code = self.context.code()
        failed = exc is not None or (code is not None and code not in (0, grpc.StatusCode.OK))
        self.stats.record(self.method, time.perf_counter() - self.started, failed=failed)
        return False


_STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.InvalidArgument: code_pb2.INVALID_ARGUMENT,
    errors.NotFound: code_pb2.NOT_FOUND,
    errors.AlreadyExists: code_pb2.ALREADY_EXISTS,
    errors.PermissionDenied: code_pb2.PERMISSION_DENIED,
    errors.Unauthenticated: code_pb2.UNAUTHENTICATED,
    errors.FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    errors.Aborted: code_pb2.ABORTED,
    errors.DependencyUnavailable: code_pb2.UNAVAILABLE,
    errors.TooManyAttempts: code_pb2.RESOURCE_EXHAUSTED,
}


def to_status(error: errors.DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error, with BadRequest details for bad input."""
    code = next((c for cls, c in _STATUS_OF.items() if isinstance(error, cls)), code_pb2.UNKNOWN)
    status = status_pb2.Status(code=code, message=error.message)
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    if isinstance(error, errors.Aborted):
        info = error_details_pb2.ErrorInfo(reason=error.reason, domain="trading", metadata=error.metadata)
        detail = any_pb2.Any()
        detail.Pack(info)
        status.details.append(detail)
    if isinstance(error, errors.TooManyAttempts):
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(max(1, round(error.retry_after_s * 1000)))
        detail = any_pb2.Any()
        detail.Pack(retry)
        status.details.append(detail)
    return status


class ErrorMappingInterceptor(_WrappingInterceptor):
    """Domain errors become their gRPC status; anything unexpected becomes INTERNAL, logged
    with its traceback here and never sent to the caller."""

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _ErrorScope(method, context)


class _ErrorScope(_Around):
    def __init__(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.method = method
        self.context = context

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        if isinstance(exc, errors.DomainError):
            await self.context.abort_with_status(rpc_status.to_status(to_status(exc)))
        if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            # The database is down or unreachable: the caller may retry, and the pool reconnects.
            log.warning("database unavailable in %s: %s", self.method, exc.orig)
            await self.context.abort(grpc.StatusCode.UNAVAILABLE, "database unavailable, please retry later")
        # grpc's own abort exception must pass through untouched.
        if type(exc).__module__.startswith("grpc"):
            return False
        log.exception("unhandled error in %s", self.method, exc_info=exc)
        await self.context.abort(grpc.StatusCode.INTERNAL, "internal error")
        return False
