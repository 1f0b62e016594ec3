"""Builds the alerts feature from the settings: the store, the ML engine (catalogue and prediction
streams, with business's service token), the mailer, the live hub and the feed watcher."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from business.alerts.adapters.ml_engine import MlPredictionFeed, MlSymbolCatalogue
from business.alerts.data.repositories import SqlAlertsUnitOfWork
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.feeds import FeedWatcher
from business.alerts.domain.ports import Mailer, PredictionFeed, SymbolCatalogue
from business.alerts.domain.validation import TIMEFRAMES
from business.alerts.live import LiveAlertHub
from business.config import BusinessSettings
from business.shared.database import BusinessStore
from business.shared.mail import mailer
from service_runtime.plans import value_plans
from service_runtime.service_token import ServiceChannel
from trading.alerts.v1 import alert_service_pb2 as alert_pb

# Its access rule's plan limit on `timeframe` holds for the rules it made, at every bar.
CREATE_ALERT_RULE = alert_pb.DESCRIPTOR.services_by_name["AlertService"].methods_by_name["CreateAlertRule"]


@dataclass
class AlertsFeature:
    ctx: AlertsContext
    hub: LiveAlertHub
    watcher: FeedWatcher
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Follows the watched feeds in the running loop until close()."""
        if self._task is None:
            self._task = asyncio.create_task(self.watcher.run(), name="alerts feed watcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.watcher.close()


def assemble(
    store: BusinessStore,
    catalogue: SymbolCatalogue,
    feed: PredictionFeed,
    sender: Mailer,
    web_url: str = "http://localhost:8080",
    refresh_s: float = 5.0,
) -> AlertsFeature:
    hub = LiveAlertHub()
    ctx = AlertsContext(
        transactions=store.units_of_work(SqlAlertsUnitOfWork),
        catalogue=catalogue,
        mailer=sender,
        live=hub,
        web_url=web_url.rstrip("/"),
        timeframe_plans=value_plans(CREATE_ALERT_RULE, "timeframe", TIMEFRAMES),
    )
    return AlertsFeature(ctx, hub, FeedWatcher(ctx, feed, refresh_s=refresh_s))


def build_alerts(settings: BusinessSettings, store: BusinessStore, channel: ServiceChannel) -> AlertsFeature:
    """Alerts on business's one channel to the ML engine (its owner, main, closes it)."""
    return assemble(
        store,
        MlSymbolCatalogue(channel),
        MlPredictionFeed(channel),
        mailer(settings),
        settings.public_web_url,
        settings.alert_feeds_refresh_s,
    )
