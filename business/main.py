"""Business service process: settings, migrations, stores, handlers; serves until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from business.alerts.handlers import AlertHandlers, SavedBacktestHandlers, WatchlistHandlers
from business.alerts.wiring import build_alerts
from business.billing.domain.maintenance import run_sweeps
from business.billing.handlers import (
    BillingAdminHandlers,
    PlanHandlers,
    StripeEventHandlers,
    SubscriptionHandlers,
)
from business.billing.wiring import build_billing
from business.config import BusinessSettings
from business.education.adapters.ml_engine import MlEngineMarket
from business.education.handlers.authoring import AuthoringHandlers
from business.education.handlers.catalog import CatalogHandlers
from business.education.handlers.learning import CertificateHandlers, LearningHandlers
from business.education.wiring import build_education, load_starter_catalogue
from business.identity.handlers.admin import AdminHandlers
from business.identity.handlers.auth import AuthHandlers
from business.identity.handlers.users import UserHandlers
from business.identity.wiring import build_identity
from business.paper_trading.bar_feed import BarFeedConsumer
from business.paper_trading.handlers import PaperTradingHandlers
from business.paper_trading.wiring import build_paper_trading, load_instruments, parse_instruments
from business.shared.database import BusinessStore, migrate
from business.shared.ml_engine_channel import ml_engine_channel
from business.status.adapters.ml_engine import MlEngineClient
from business.status.adapters.redis import RedisProbe
from business.status.handlers import StatusHandlers
from service_runtime.contracts import platform_services
from service_runtime.metrics import CallStats
from service_runtime.server import ServiceHost, run_service
from trading.alerts.v1 import (
    alert_service_pb2,
    alert_service_pb2_grpc,
    saved_backtest_service_pb2,
    saved_backtest_service_pb2_grpc,
    watchlist_service_pb2,
    watchlist_service_pb2_grpc,
)
from trading.billing.v1 import (
    billing_admin_service_pb2,
    billing_admin_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
    stripe_event_service_pb2,
    stripe_event_service_pb2_grpc,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
)
from trading.education.v1 import (
    authoring_service_pb2,
    authoring_service_pb2_grpc,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    certificate_service_pb2,
    certificate_service_pb2_grpc,
    learning_service_pb2,
    learning_service_pb2_grpc,
)
from trading.identity.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    user_admin_service_pb2,
    user_admin_service_pb2_grpc,
    user_service_pb2,
    user_service_pb2_grpc,
)
from trading.paper.v1 import paper_trading_service_pb2, paper_trading_service_pb2_grpc
from trading.status.v1 import status_service_pb2, status_service_pb2_grpc

log = logging.getLogger("business")

SERVICE_NAMES = [
    status_service_pb2.DESCRIPTOR.services_by_name["StatusService"].full_name,
    auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    user_service_pb2.DESCRIPTOR.services_by_name["UserService"].full_name,
    user_admin_service_pb2.DESCRIPTOR.services_by_name["UserAdminService"].full_name,
    catalog_service_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
    authoring_service_pb2.DESCRIPTOR.services_by_name["AuthoringService"].full_name,
    learning_service_pb2.DESCRIPTOR.services_by_name["LearningService"].full_name,
    certificate_service_pb2.DESCRIPTOR.services_by_name["CertificateService"].full_name,
    plan_service_pb2.DESCRIPTOR.services_by_name["PlanService"].full_name,
    subscription_service_pb2.DESCRIPTOR.services_by_name["SubscriptionService"].full_name,
    stripe_event_service_pb2.DESCRIPTOR.services_by_name["StripeEventService"].full_name,
    watchlist_service_pb2.DESCRIPTOR.services_by_name["WatchlistService"].full_name,
    alert_service_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name,
    saved_backtest_service_pb2.DESCRIPTOR.services_by_name["SavedBacktestService"].full_name,
    paper_trading_service_pb2.DESCRIPTOR.services_by_name["PaperTradingService"].full_name,
    billing_admin_service_pb2.DESCRIPTOR.services_by_name["BillingAdminService"].full_name,
]


class BackgroundTasks:
    """The service's long-running tasks, cancelled and awaited together when it stops."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(work, name=name))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def build_host(settings: BusinessSettings) -> ServiceHost:
    store = BusinessStore(settings.database_url)
    redis = RedisProbe(settings.redis_url)
    ml = MlEngineClient(settings.ml_target, settings.ml_service_timeout)
    status = StatusHandlers(store, redis, ml, settings.health_probe_timeout_ms / 1000)
    revocations = settings.revocations()
    identity = build_identity(settings, store, revocations)
    auth, users, admin = AuthHandlers(identity), UserHandlers(identity), AdminHandlers(identity)
    ml_service = ml_engine_channel(settings)
    education = build_education(store, MlEngineMarket(ml_service))
    catalog, authoring = CatalogHandlers(education), AuthoringHandlers(education)
    learning, certificates = LearningHandlers(education), CertificateHandlers(education)
    billing = build_billing(settings, store, revocations)
    plans, subscriptions = PlanHandlers(billing), SubscriptionHandlers(billing)
    stripe_events, billing_admin = StripeEventHandlers(billing), BillingAdminHandlers(billing)
    alerts = build_alerts(settings, store, ml_service)
    watchlist_handlers, alert_handlers = WatchlistHandlers(alerts), AlertHandlers(alerts)
    saved_backtests = SavedBacktestHandlers(alerts)
    paper_trading = build_paper_trading(settings, store)
    paper = PaperTradingHandlers(paper_trading)
    # build_host runs inside the server's loop (run_service): the features' background work (the
    # alerts' feed watcher, paper trading's bar feed, the billing sweep) runs as its tasks.
    alerts.start()
    background = BackgroundTasks()
    if settings.paper_feed_enabled:
        feed = BarFeedConsumer(ml_service, paper_trading, settings.paper_feed_timeframe)
        background.start(feed.run(), "paper bar feed")
    if billing.configured and settings.billing_sweep_interval_s > 0:
        background.start(run_sweeps(billing, settings.billing_sweep_interval_s), "billing sweep")

    async def close() -> None:
        await alerts.close()
        await background.stop()
        await identity.close()
        await revocations.close()
        await ml.close()
        await ml_service.close()
        await redis.close()
        store.close()

    return ServiceHost(
        name="business",
        host=settings.grpc_host,
        port=settings.business_grpc_port,
        service_names=SERVICE_NAMES,
        registrars=[
            lambda server: status_service_pb2_grpc.add_StatusServiceServicer_to_server(status, server),
            lambda server: auth_service_pb2_grpc.add_AuthServiceServicer_to_server(auth, server),
            lambda server: user_service_pb2_grpc.add_UserServiceServicer_to_server(users, server),
            lambda server: user_admin_service_pb2_grpc.add_UserAdminServiceServicer_to_server(admin, server),
            lambda server: catalog_service_pb2_grpc.add_CatalogServiceServicer_to_server(catalog, server),
            lambda server: authoring_service_pb2_grpc.add_AuthoringServiceServicer_to_server(
                authoring, server
            ),
            lambda server: learning_service_pb2_grpc.add_LearningServiceServicer_to_server(learning, server),
            lambda server: certificate_service_pb2_grpc.add_CertificateServiceServicer_to_server(
                certificates, server
            ),
            lambda server: plan_service_pb2_grpc.add_PlanServiceServicer_to_server(plans, server),
            lambda server: subscription_service_pb2_grpc.add_SubscriptionServiceServicer_to_server(
                subscriptions, server
            ),
            lambda server: stripe_event_service_pb2_grpc.add_StripeEventServiceServicer_to_server(
                stripe_events, server
            ),
            lambda server: watchlist_service_pb2_grpc.add_WatchlistServiceServicer_to_server(
                watchlist_handlers, server
            ),
            lambda server: alert_service_pb2_grpc.add_AlertServiceServicer_to_server(alert_handlers, server),
            lambda server: saved_backtest_service_pb2_grpc.add_SavedBacktestServiceServicer_to_server(
                saved_backtests, server
            ),
            lambda server: paper_trading_service_pb2_grpc.add_PaperTradingServiceServicer_to_server(
                paper, server
            ),
            lambda server: billing_admin_service_pb2_grpc.add_BillingAdminServiceServicer_to_server(
                billing_admin, server
            ),
        ],
        stats=CallStats("business"),
        grace_s=settings.shutdown_grace_s,
        metrics_port=settings.business_metrics_port,
        # Envoy sends reflection to business, which describes the platform's whole API.
        reflect_services=platform_services(),
        on_stop=close,
        inner_interceptors=[settings.access_interceptor(SERVICE_NAMES, revocations)],
    )


def main() -> None:
    settings = BusinessSettings()

    async def migrate_first() -> None:
        if settings.migrate_on_start:
            # Alembic is synchronous; keep the event loop free while it runs.
            await asyncio.to_thread(migrate, settings.database_url)
            log.info("migrations applied")
        # The starter courses, loaded once (idempotent: a course whose slug exists is left alone).
        await asyncio.to_thread(load_starter_catalogue, settings.database_url)
        # The configured instruments paper trading accepts orders for (tick and lot grids).
        store = BusinessStore(settings.database_url)
        try:
            paper = build_paper_trading(settings, store)
            await asyncio.to_thread(load_instruments, paper, parse_instruments(settings.paper_symbols))
        finally:
            store.close()

    run_service("business", settings, lambda: build_host(settings), before_start=migrate_first)


if __name__ == "__main__":
    main()
