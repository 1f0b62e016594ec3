"""Server interceptors shared by every service: request context, metrics and error mapping.

grpc.aio interceptors only see the call before the handler runs, so each one wraps the
handler's behaviour function (unary or streaming) to act around the whole call.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import sqlalchemy.exc
from google.protobuf import any_pb2, descriptor, message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from service_runtime import errors
from service_runtime.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from service_runtime.metrics import CallStats
from service_runtime.request_values import unusable_value
from service_runtime.wire import undecodable_field

log = logging.getLogger("service_runtime.rpc")

Behavior = Callable[..., Any]
# Wraps (method name, behaviour, is response-streaming) into a new behaviour.
Wrapper = Callable[[str, Behavior, bool], Behavior]


def _rewrap(
    handler: grpc.RpcMethodHandler,
    method: str,
    wrap: Wrapper,
    deserializer: Callable[[Any], Any] = lambda parse: parse,
) -> grpc.RpcMethodHandler:
    parse = deserializer(handler.request_deserializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap(method, handler.unary_unary, False),
            request_deserializer=parse,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap(method, handler.unary_stream, True),
            request_deserializer=parse,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            wrap(method, handler.stream_unary, False),
            request_deserializer=parse,
            response_serializer=handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        wrap(method, handler.stream_stream, True),
        request_deserializer=parse,
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
        return _rewrap(handler, handler_call_details.method, self._wrap, self._deserializer)

    def _deserializer(self, parse: Any) -> Any:
        """The request parser gRPC calls before any wrapped behaviour runs; kept by default."""
        return parse

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
        # A stream whose client left may be closed by the event loop's async-generator finaliser,
        # in a context of its own: the value set on entry is not there to reset (ValueError).
        with contextlib.suppress(ValueError):
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


# What one refusal carries at most. It travels in the call's trailers (grpc-message and
# grpc-status-details-bin), which gRPC and Envoy bound: a course with hundreds of bad fields made
# trailers no one would send, and the caller got 502/503 instead of its 400.
MAX_VIOLATIONS_SENT = 50
MAX_VIOLATIONS_IN_MESSAGE = 10
MAX_DESCRIPTION_CHARS = 300


def _bounded_message(error: errors.DomainError) -> str:
    if not isinstance(error, errors.InvalidArgument):
        return error.message[:2000]
    shown = error.violations[:MAX_VIOLATIONS_IN_MESSAGE]
    text = "; ".join(f"{v.field}: {v.description[:MAX_DESCRIPTION_CHARS]}" for v in shown)
    rest = len(error.violations) - len(shown)
    return f"{text}; and {rest} more" if rest else text


def to_status(error: errors.DomainError) -> status_pb2.Status:
    """The google.rpc.Status for a domain error, with BadRequest details for bad input (the first
    MAX_VIOLATIONS_SENT violations; the message says how many more there were)."""
    code = next((c for cls, c in _STATUS_OF.items() if isinstance(error, cls)), code_pb2.UNKNOWN)
    status = status_pb2.Status(code=code, message=_bounded_message(error))
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description[:MAX_DESCRIPTION_CHARS]
                )
                for v in error.violations[:MAX_VIOLATIONS_SENT]
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    if isinstance(error, (errors.Aborted, errors.PlanRequired)):
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
    with its traceback here and never sent to the caller (who gets the request id to quote).

    It also parses the requests: gRPC parses before any wrapper runs, and a parse failure there
    would reach the caller as UNKNOWN with the exception's class name. Here a request that does
    not parse is INVALID_ARGUMENT naming the field (service_runtime/wire.py)."""

    def around(self, method: str, context: grpc.aio.ServicerContext) -> Any:
        return _ErrorScope(method, context)

    def _deserializer(self, parse: Any) -> Any:
        return _tolerant(parse) if parse is not None else None

    def _wrap(self, method: str, behavior: Behavior, streaming: bool) -> Behavior:
        return super()._wrap(method, _refusing_undecodable(behavior, streaming), streaming)


class _Undecodable:
    """A request the protobuf parser refused, in place of the message: never shown to a handler."""

    def __init__(self, message_type: descriptor.Descriptor | None, raw: bytes) -> None:
        self.message_type = message_type
        self.raw = raw

    def error(self) -> errors.InvalidArgument:
        field = undecodable_field(self.message_type, self.raw) if self.message_type else ""
        return errors.InvalidArgument.field(
            field or "request",
            "not a valid value of this field's type (see the API reference)",
        )


def _tolerant(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    # Generated stubs pass the message class's FromString: its class names the message type.
    message_type = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)

    def parse_or_mark(raw: bytes) -> Any:
        try:
            return parse(raw)
        except message.DecodeError:
            return _Undecodable(message_type, raw)

    return parse_or_mark


def _checked(request: Any) -> Any:
    if isinstance(request, _Undecodable):
        raise request.error()
    if hasattr(request, "__aiter__"):  # a client stream: each message is checked as it arrives
        return _checked_stream(request)
    unusable = unusable_value(request) if hasattr(request, "DESCRIPTOR") else None
    if unusable:
        raise errors.InvalidArgument.field(*unusable)
    return request


async def _checked_stream(requests: Any) -> Any:
    async for request in requests:
        yield _checked(request)


def _refusing_undecodable(behavior: Behavior, streaming: bool) -> Behavior:
    if streaming:

        async def stream_behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async for item in behavior(_checked(request), context):
                yield item

        return stream_behavior

    async def unary_behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await behavior(_checked(request), context)

    return unary_behavior


def internal_error_message() -> str:
    """What a caller learns of an unexpected error: that it happened, and the id to quote."""
    request_id = request_id_var.get()
    return f"internal error (request id {request_id})" if request_id else "internal error"


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
        await self.context.abort(grpc.StatusCode.INTERNAL, internal_error_message())
        return False
