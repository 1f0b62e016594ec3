"""ML engine process: read settings, wire store and handlers, serve gRPC until SIGTERM."""

from __future__ import annotations

import logging

from ml_engine.config import MlEngineSettings
from ml_engine.data.market_store import MarketStore
from ml_engine.domain.models import ModelRegistry
from ml_engine.engine.handlers import EngineHandlers
from service_runtime.metrics import CallStats
from service_runtime.server import ServiceHost, run_service
from trading.ml.v1 import engine_service_pb2, engine_service_pb2_grpc

log = logging.getLogger("ml_engine")


def build_host(settings: MlEngineSettings) -> ServiceHost:
    store = MarketStore(settings.market_database_url)
    stats = CallStats("ml_engine")
    handlers = EngineHandlers(
        store, stats, ModelRegistry(), settings.health_probe_timeout_ms / 1000
    )

    async def close() -> None:
        store.close()

    return ServiceHost(
        name="ml_engine",
        host=settings.grpc_host,
        port=settings.ml_grpc_port,
        service_names=[engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name],
        registrars=[lambda server: engine_service_pb2_grpc.add_EngineServiceServicer_to_server(handlers, server)],
        stats=stats,
        grace_s=settings.shutdown_grace_s,
        metrics_port=settings.ml_metrics_port,
        on_stop=close,
    )


def main() -> None:
    settings = MlEngineSettings()
    run_service("ml_engine", settings, lambda: build_host(settings))


if __name__ == "__main__":
    main()
