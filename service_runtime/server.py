"""Builds, starts and gracefully stops a grpc.aio server with the shared interceptors,
grpc.health.v1 health, server reflection and a Prometheus endpoint."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service_runtime.config import CommonSettings
from service_runtime.garbage_collection import freeze_startup_objects
from service_runtime.interceptors import (
    ErrorMappingInterceptor,
    MetricsInterceptor,
    RequestContextInterceptor,
)
from service_runtime.logging import configure_logging
from service_runtime.metrics import CallStats, start_metrics_server
from service_runtime.request_meta import trust_proxies

log = logging.getLogger("service_runtime.server")

Registrar = Callable[[grpc.aio.Server], None]
METADATA_LIMIT_BYTES = 32 * 1024
# gRPC's backlog of calls not yet taken by the event loop: from the soft limit on, it refuses a
# growing random share (CANCELLED), all of them at the hard limit. Sized for thousands of stream
# subscribers connecting at once (a restart, a market open), still bounded.
PENDING_CALLS_SOFT_LIMIT = 10_000
PENDING_CALLS_HARD_LIMIT = 20_000


class ServiceHost:
    """One gRPC server process: call `run()` and it serves until SIGTERM/SIGINT."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        service_names: Sequence[str],
        registrars: Iterable[Registrar],
        stats: CallStats,
        grace_s: float,
        metrics_port: int = 0,
        reflect_services: Sequence[str] = (),
        on_stop: Callable[[], Awaitable[None]] | None = None,
        inner_interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self.name = name
        self.address = f"{host}:{port}"
        self.host = host
        # The port actually bound: `port` itself, or the kernel's pick when `port` is 0.
        self.port = port
        self.metrics_port = metrics_port
        self.service_names = list(service_names)
        self.grace_s = grace_s
        self.on_stop = on_stop
        self.health = health.aio.HealthServicer()
        # Order matters: context first so the request id is set for the others' logs;
        # errors last so metrics see the final status.
        self.server = grpc.aio.server(
            interceptors=[
                RequestContextInterceptor(),
                MetricsInterceptor(stats),
                ErrorMappingInterceptor(),
                # Innermost, e.g. access checks: their domain errors reach the caller mapped.
                *inner_interceptors,
            ],
            options=[
                ("grpc.so_reuseport", 0),
                # 8 MiB: room for a 4 MiB CSV import and its envelope.
                ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                # 32 KiB of metadata: Envoy admits 8 KiB of request headers (envoy/listener.py)
                # and forwards a transcoded call's URL twice; the edge decides (431), never this.
                ("grpc.max_metadata_size", METADATA_LIMIT_BYTES),
                ("grpc.absolute_max_metadata_size", METADATA_LIMIT_BYTES),
                # Calls that arrived faster than the event loop takes them wait in gRPC's backlog;
                # past 1,000 of them (its default) it refused a random share as CANCELLED: 94 of
                # 2,000 stream subscribers arriving at once. A burst this size waits its turn instead.
                ("grpc.server.max_pending_requests", PENDING_CALLS_SOFT_LIMIT),
                ("grpc.server.max_pending_requests_hard_limit", PENDING_CALLS_HARD_LIMIT),
            ],
        )
        for register in registrars:
            register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        # Reflection may describe more than this process serves (see contracts.platform_services).
        reflected = sorted({*self.service_names, *reflect_services})
        reflection.enable_server_reflection(
            [*reflected, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self._stopping = asyncio.Event()

    async def _set_serving(self, status: int) -> None:
        for service in ["", *self.service_names]:
            await self.health.set(service, status)

    async def start(self) -> None:
        bound = self.server.add_insecure_port(self.address)
        if not bound:
            raise RuntimeError(f"{self.name}: cannot bind {self.address}")
        self.port = bound
        await self.server.start()
        start_metrics_server(self.host, self.metrics_port)
        await self._set_serving(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"address": self.address, "metrics_port": self.metrics_port})

    async def stop(self) -> None:
        """Stop accepting calls, let in-flight calls finish within the grace period."""
        log.info("draining", extra={"grace_s": self.grace_s})
        await self._set_serving(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.grace_s)
        if self.on_stop is not None:
            await self.on_stop()
        log.info("stopped")

    async def run(self, when_serving: Callable[[], object] | None = None) -> None:
        await self.start()
        if when_serving is not None:
            when_serving()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        await self._stopping.wait()
        await self.stop()


def run_service(
    name: str,
    settings: CommonSettings,
    build_host: Callable[[], ServiceHost],
    before_start: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """The whole life of a service process: JSON logs, optional start-up work, serve."""
    configure_logging(name, settings.log_level)
    trust_proxies(settings.trusted_proxy_cidrs)

    async def serve() -> None:
        if before_start is not None:
            await before_start()
        # The gRPC server must be built inside the running event loop.
        await build_host().run(when_serving=freeze_startup_objects)

    asyncio.run(serve())
