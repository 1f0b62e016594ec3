"""ML engine process: read settings, wire store, models and handlers, serve gRPC until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from ml_engine.backtests.domain import warm_up
from ml_engine.backtests.handlers import BacktestHandlers
from ml_engine.config import MlEngineSettings
from ml_engine.indicators.handlers import IndicatorHandlers, add_indicator_service
from ml_engine.market_data.bar_cache import BarCache
from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_stream import BarHub
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.feeds.replay import ReplayFeed
from ml_engine.market_data.handlers import MarketDataHandlers
from ml_engine.market_data.importing.importer import load_missing_samples
from ml_engine.models.data.version_choices import SqlVersionChoices
from ml_engine.models.handlers import ModelHandlers
from ml_engine.models.kserve_handlers import SERVICE_NAME as INFERENCE_SERVICE
from ml_engine.models.kserve_handlers import InferenceHandlers, add_inference_service
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.models.serving.shadow import ShadowRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore
from ml_engine.predictions.domain.adaptive import AdaptiveConformal, AdaptiveSettings
from ml_engine.predictions.domain.ensemble import load_manifest
from ml_engine.predictions.domain.signals import TradeCosts
from ml_engine.predictions.explain import XgbExplainer
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.handlers import PredictionHandlers, add_prediction_service
from ml_engine.predictions.ml_signals_models import register_ml_signals
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.predictions.scoring import Scorer
from ml_engine.predictions.streams import StreamHub
from ml_engine.promotion.handlers import PromotionHandlers
from ml_engine.promotion.service import PromotionService
from ml_engine.shared.database import MarketStore
from ml_engine.status.handlers import EngineHandlers
from ml_engine.training_runs.handlers import TrainingHandlers
from ml_engine.training_runs.runs import TrainingRuns
from ml_engine.training_runs.wiring import build_training_runs
from service_runtime.allocator import keep_freed_memory
from service_runtime.metrics import CallStats
from service_runtime.rate_limits import RateLimitInterceptor, window_counter
from service_runtime.server import ServiceHost, run_service
from trading.market.v1 import (
    backtest_service_pb2,
    backtest_service_pb2_grpc,
    indicator_service_pb2,
    market_data_service_pb2,
    market_data_service_pb2_grpc,
)
from trading.ml.v1 import (
    engine_service_pb2,
    engine_service_pb2_grpc,
    model_promotion_service_pb2,
    model_promotion_service_pb2_grpc,
    model_service_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2,
    training_service_pb2,
    training_service_pb2_grpc,
)

log = logging.getLogger("ml_engine")

SERVICES = [
    engine_service_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name,
    prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name,
    model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name,
    model_promotion_service_pb2.DESCRIPTOR.services_by_name["ModelPromotionService"].full_name,
    market_data_service_pb2.DESCRIPTOR.services_by_name["MarketDataService"].full_name,
    indicator_service_pb2.DESCRIPTOR.services_by_name["IndicatorService"].full_name,
    backtest_service_pb2.DESCRIPTOR.services_by_name["BacktestService"].full_name,
    training_service_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name,
    # KServe v2 (not our proto): importing its handlers declared its access rules.
    INFERENCE_SERVICE,
]
# The RPCs that run models or strategies: each call counts against the caller's plan's rate limit.
RATE_LIMITED = frozenset(
    {
        "/trading.ml.v1.PredictionService/Predict",
        "/trading.ml.v1.PredictionService/GetSignals",
        "/trading.ml.v1.PredictionService/StreamPredictions",
        "/trading.market.v1.BacktestService/RunBacktest",
        "/trading.market.v1.BacktestService/RunSweep",
    }
)
# Bars a prediction stream replays: enough history for the models' windows, close to the present.
STREAM_HISTORY_BARS = 1000


def build_host(
    settings: MlEngineSettings,
    store: MarketStore,
    registry: ModelRegistry,
    activation: VersionActivation,
    training_runs: TrainingRuns,
) -> ServiceHost:
    stats = CallStats("ml_engine")
    windows = BarWindows(store.engine, BarCache(settings.ml_bar_cache_max_bars))
    repository = Path(settings.model_path)
    manifest = load_manifest(repository)
    # Before BacktestHandlers: it reads the strategy catalogue once.
    register_ml_signals(registry, manifest)
    recorder = PredictionRecorder(PredictionStore(store.engine), enabled=settings.ml_record_predictions)
    clock = BarClock(store.engine)
    # Candidate versions run in shadow: recorded and scored, never served (ModelPromotionService).
    shadows = ShadowRegistry(registry, settings, activation.choices)
    activation.follow_choices(shadows.follow)
    # Live scores, written by the scorer, adapt the intervals the forecaster serves.
    adaptive = AdaptiveConformal(
        AdaptiveSettings(
            settings.ml_adaptive_conformal and settings.ml_score_interval_s > 0,
            settings.ml_adaptive_window,
            settings.ml_adaptive_prior_weight,
            settings.ml_adaptive_min_scores,
            settings.ml_adaptive_max_shift,
        )
    )
    # First listener: cached bars are dropped before anything recomputes from them.
    clock.on_new_bar(windows.forget)
    forecaster = Forecaster(
        windows,
        registry,
        manifest,
        recorder,
        XgbExplainer(repository),
        clock=clock,
        latest_cache_size=settings.ml_prediction_cache_size,
        costs=TradeCosts(settings.ml_signal_commission, settings.ml_signal_slippage),
        shadows=shadows,
        adaptive=adaptive,
    )
    hub = StreamHub(
        forecaster, ReplayFeed(windows, speed=settings.ml_replay_speed, history=STREAM_HISTORY_BARS)
    )
    scorer = Scorer(windows, manifest, adaptive)
    engine = EngineHandlers(store, stats, registry, settings.health_probe_timeout_ms / 1000)
    predictions = PredictionHandlers(forecaster, hub, scorer)
    models = ModelHandlers(registry, activation)
    promotion = PromotionService(shadows, activation, store.engine, settings)
    promotions = PromotionHandlers(promotion)
    # A training run's new versions run in shadow, compared with the serving ones on live scores.
    training_runs.put_in_shadow = promotion.shadow_trained
    inference = InferenceHandlers(registry)
    bar_hub = BarHub(hub.feed)
    market = MarketDataHandlers(store, windows, clock, bar_hub, settings.ml_history_cache_mib * 1024 * 1024)
    indicators = IndicatorHandlers(windows, settings.ml_indicator_cache_mib * 1024 * 1024)
    backtests = BacktestHandlers(windows, settings.backtest_time_budget_s)
    training = TrainingHandlers(training_runs)
    # Suspensions and logouts reach this service through Redis (written by business).
    revocations = settings.revocations()
    rate_counter = window_counter(settings.redis_url)
    # build_host runs inside the server's loop (run_service): the scorer is one of its tasks.
    scoring = (
        asyncio.create_task(
            # After each pass: the automatic promotion's check (ML_AUTO_PROMOTE, off by default).
            scorer.run(settings.ml_score_interval_s, after_pass=promotion.after_scoring),
            name="prediction scorer",
        )
        if settings.ml_score_interval_s > 0
        else None
    )
    # The latest stored bars: the event that makes a cached latest-bar prediction out of date.
    bar_watch = asyncio.create_task(clock.run(settings.ml_bar_poll_interval_s), name="bar clock")

    async def close() -> None:
        for task in (scoring, bar_watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await training_runs.close()
        await hub.close()
        await bar_hub.close()
        await activation.stop()
        await asyncio.to_thread(recorder.close)
        await revocations.close()
        await rate_counter.close()
        store.close()

    return ServiceHost(
        name="ml_engine",
        host=settings.grpc_host,
        port=settings.ml_grpc_port,
        service_names=SERVICES,
        registrars=[
            lambda server: engine_service_pb2_grpc.add_EngineServiceServicer_to_server(engine, server),
            lambda server: add_prediction_service(predictions, server),
            lambda server: model_service_pb2_grpc.add_ModelServiceServicer_to_server(models, server),
            lambda server: model_promotion_service_pb2_grpc.add_ModelPromotionServiceServicer_to_server(
                promotions, server
            ),
            lambda server: add_inference_service(inference, server),
            lambda server: market_data_service_pb2_grpc.add_MarketDataServiceServicer_to_server(
                market, server
            ),
            lambda server: add_indicator_service(indicators, server),
            lambda server: backtest_service_pb2_grpc.add_BacktestServiceServicer_to_server(backtests, server),
            lambda server: training_service_pb2_grpc.add_TrainingServiceServicer_to_server(training, server),
        ],
        stats=stats,
        grace_s=settings.shutdown_grace_s,
        metrics_port=settings.ml_metrics_port,
        on_stop=close,
        inner_interceptors=[
            settings.access_interceptor(SERVICES, revocations),
            # Per user and plan, inside the access check (it reads the verified caller); see
            # service_runtime/rate_limits.py for why here rather than at the edge.
            RateLimitInterceptor(settings.rate_limits(), RATE_LIMITED, rate_counter),
        ],
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
    keep_freed_memory(settings.ml_allocator_keep_mib * 1024 * 1024)
    store = MarketStore(settings.market_database_url)
    registry = ModelRegistry(Path(settings.model_path))
    # The version chosen for each model is shared by every engine through the store.
    activation = VersionActivation(registry, settings, SqlVersionChoices(store.engine))
    training_runs = build_training_runs(settings, store)

    async def before_start() -> None:
        await asyncio.to_thread(prepare_store, settings, store)
        for run in await training_runs.recover():
            log.warning("training run marked FAILED", extra={"run_id": run.id, "reason": run.error})
        # In the server's loop: the activation's file watch is a task of it. Models are READY
        # (warmed up on their execution provider) before the port opens.
        await activation.start()

    run_service(
        "ml_engine",
        settings,
        lambda: build_host(settings, store, registry, activation, training_runs),
        before_start=before_start,
    )


if __name__ == "__main__":
    main()
