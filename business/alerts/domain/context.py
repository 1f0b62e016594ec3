"""What the alerts feature's use cases work with, built by wiring.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from business.alerts.domain.entities import AlertRule
from business.alerts.domain.ports import AlertsUnitOfWork, LiveAlerts, Mailer, SymbolCatalogue, Transactions
from business.audit import domain as audit
from business.audit.domain import Client


def utcnow() -> datetime:
    return datetime.now(UTC)


class RulesChanged:
    """Set when a rule is added or deleted, so that the watcher reads the feeds again."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def notify(self) -> None:
        self._current().set()

    async def wait(self, timeout_s: float) -> None:
        event = self._current()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)
        event.clear()


@dataclass(frozen=True)
class AlertsContext:
    transactions: Transactions
    catalogue: SymbolCatalogue
    mailer: Mailer
    live: LiveAlerts
    web_url: str = "http://localhost:8080"  # the alerts page linked from each email
    clock: Callable[[], datetime] = utcnow
    rules_changed: RulesChanged = field(default_factory=RulesChanged)
    # The plans a rule on each timeframe needs (CreateAlertRule's plan limit on `timeframe`; a
    # timeframe open to every plan is absent), checked again at each bar: a downgrade stops them.
    timeframe_plans: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Each feed's rules as last read, with the feed's version then: read again only when it changed.
    rule_cache: dict[tuple[str, str], tuple[object, list[AlertRule]]] = field(default_factory=dict)
    # The last bar of each feed (symbol, timeframe) whose alerts this process delivered live.
    delivered_live: dict[tuple[str, str], int] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    def record(
        self, uow: AlertsUnitOfWork, action: str, client: Client, actor_id: str, **fields: Any
    ) -> None:
        """An audit entry, dated now, in the unit of work's transaction."""
        audit.record(uow.audit, self.now(), action, client, actor_id=actor_id, subject_id=actor_id, **fields)
