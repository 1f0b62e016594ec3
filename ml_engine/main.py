"""ML engine process: read settings, wire store and handlers, serve gRPC until SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from ml_engine.backtests.handlers import BacktestHandlers
from ml_engine.config import MlEngineSettings
from ml_engine.data.market_store import MarketStore
from ml_engine.domain.backtest import warm_up
from ml_engine.domain.models import ModelRegistry
from ml_engine.engine.handlers import EngineHandlers
from ml_engine.importing.importer import load_missing_samples
from ml_engine.indicators.handlers import IndicatorHandlers
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.handlers import MarketDataHandlers
from service_runtime.metrics import CallStats
from service_runtime.revocations import make_revocations
from service_runtime.server import ServiceHost, run_service
from trading.market.v1 import (
    backtest_service_pb2,
    backtest_service_pb2_grpc,
    indicator_service_pb2,
    indicator_service_pb2_grpc,
    market_data_service_pb2,
    market_data_service_pb2_grpc,
)
from trading.ml.v1 import engine_service_pb2, engine_service_pb2_grpc

log = logging.getLogger("ml_engine")

SERVICES = [
    engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name,
    market_data_service_pb2.DESCRIPTOR.services_by_name["MarketDataService"].full_name,
    indicator_service_pb2.DESCRIPTOR.services_by_name["IndicatorService"].full_name,
    backtest_service_pb2.DESCRIPTOR.services_by_name["BacktestService"].full_name,
]


def build_host(settings: MlEngineSettings, store: MarketStore) -> ServiceHost:
    stats = CallStats("ml_engine")
    windows = BarWindows(store.engine)
    engine = EngineHandlers(store, stats, ModelRegistry(), settings.health_probe_timeout_ms / 1000)
    market = MarketDataHandlers(store, windows)
    indicators = IndicatorHandlers(windows)
    backtests = BacktestHandlers(windows, settings.backtest_time_budget_s)
    # Suspensions and logouts reach this service through Redis (written by business).
    revocations = make_revocations(settings.redis_url, settings.jwt_access_ttl_s)

    async def close() -> None:
        await revocations.close()
        store.close()

    return ServiceHost(
        name="ml_engine",
        host=settings.grpc_host,
        port=settings.ml_grpc_port,
        service_names=SERVICES,
        registrars=[
            lambda server: engine_service_pb2_grpc.add_EngineServiceServicer_to_server(engine, server),
            lambda server: market_data_service_pb2_grpc.add_MarketDataServiceServicer_to_server(market, server),
            lambda server: indicator_service_pb2_grpc.add_IndicatorServiceServicer_to_server(indicators, server),
            lambda server: backtest_service_pb2_grpc.add_BacktestServiceServicer_to_server(backtests, server),
        ],
        stats=stats,
        grace_s=settings.shutdown_grace_s,
        metrics_port=settings.ml_metrics_port,
        on_stop=close,
        inner_interceptors=[settings.access_interceptor(SERVICES, revocations)],
    )


def prepare_store(settings: MlEngineSettings, store: MarketStore) -> None:
    if settings.migrate_on_start:
        store.migrate()
        log.info("migrations applied")
    # Compile the backtest kernel now (numba caches it on disk), not on the first request.
    log.info("backtest kernel ready", extra={"seconds": round(warm_up(), 3)})
    if settings.load_sample_data:
        for report in load_missing_samples(store.engine):
            log.info("sample data imported", extra={"symbol": report.symbol, "rows": report.rows_inserted})


def main() -> None:
    settings = MlEngineSettings()
    store = MarketStore(settings.market_database_url)

    async def before_start() -> None:
        await asyncio.to_thread(prepare_store, settings, store)

    run_service("ml_engine", settings, lambda: build_host(settings, store), before_start=before_start)


if __name__ == "__main__":
    main()
