"""A service's handlers on a real gRPC server in this process, on a port the kernel picks, with the
same interceptors as production (request context, metrics, error mapping, access rules).

Handler tests call it through a channel, so what they see is what a client sees: statuses, error
details, metadata and the access rule of every RPC, never a handler method called directly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc

from service_runtime.access import (
    STREAM_RECHECK_S,
    AccessInterceptor,
    RevocationCheck,
    TokenVerifier,
    access_rules,
)
from service_runtime.metrics import CallStats
from service_runtime.server import Registrar, ServiceHost


@dataclass(frozen=True)
class InProcessServer:
    channel: grpc.aio.Channel
    # host:port, for clients that dial an address rather than take a channel (tritonclient).
    address: str


@asynccontextmanager
async def serve_in_process(
    *,
    service_names: Sequence[str],
    registrars: Sequence[Registrar],
    verifier: TokenVerifier,
    revocations: RevocationCheck | None = None,
    stats: CallStats | None = None,
    stream_recheck_s: float = STREAM_RECHECK_S,
    inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AsyncIterator[InProcessServer]:
    """Serve the handlers on 127.0.0.1:<free port>; yields a channel to them, stops on exit."""
    host = ServiceHost(
        name="in-process",
        host="127.0.0.1",
        port=0,
        service_names=service_names,
        registrars=registrars,
        stats=stats or CallStats("in-process"),
        grace_s=1.0,
        inner_interceptors=[
            AccessInterceptor(verifier, access_rules(service_names), revocations, stream_recheck_s),
            # Inside the access check, as in production (the rate limits read its caller).
            *inner_interceptors,
        ],
    )
    await host.start()
    address = f"127.0.0.1:{host.port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield InProcessServer(channel, address)
    finally:
        await channel.close()
        await host.server.stop(None)
