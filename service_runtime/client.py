"""Outgoing gRPC channels: every call carries the request id and a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from service_runtime.context import REQUEST_ID_HEADER, new_request_id, request_id_var


class _OutgoingCallInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds x-request-id and, when the caller set none, the default deadline."""

    def __init__(self, default_timeout_s: float) -> None:
        self.default_timeout_s = default_timeout_s

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        if REQUEST_ID_HEADER not in metadata:
            metadata.add(REQUEST_ID_HEADER, request_id_var.get() or new_request_id())
        timeout = client_call_details.timeout
        # Never wait longer than the configured bound, even if the caller asked for more.
        if timeout is None or timeout > self.default_timeout_s:
            timeout = self.default_timeout_s
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=timeout,
            metadata=metadata,
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def outgoing_channel(target: str, *, timeout_ms: int) -> grpc.aio.Channel:
    """An insecure channel (traffic stays inside the host or the cluster network)."""
    return grpc.aio.insecure_channel(
        target,
        interceptors=[_OutgoingCallInterceptor(timeout_ms / 1000)],
        options=[
            ("grpc.enable_retries", 0),
            # Reconnect soon after a dependency comes back (the default backoff grows to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ],
    )
