"""What the education use cases share: the ports, the clock and the audit helper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from business.audit import domain as audit
from business.audit.domain import Client
from business.education.domain.entities import ADMIN_ROLE, PRO
from business.education.domain.ports import EducationUnitOfWork, MarketData, Transactions
from service_runtime.caller import Caller, has_plan


def utcnow() -> datetime:
    return datetime.now(UTC)


class Turns:
    """Calls with the same key take turns in this process; a key's lock lives while a call holds
    or waits for it, so the table stays as small as the calls in flight."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        lock, holders = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._locks[key]
            if holders == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, holders - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class Education:
    transactions: Transactions
    clock: Callable[[], datetime] = utcnow
    # The ML engine, for live blocks (checked on save, forecast exercises scored against it).
    market: MarketData | None = None
    # The plans that open a model horizon (Predict's plan limit on `horizon`; () when every plan
    # does): business asks the model with its own token, so it withholds what the learner's plan
    # does not open.
    horizon_plans: Callable[[str], tuple[str, ...]] = lambda horizon: ()
    # One forecast answer per learner and block at a time: concurrent submissions of the same
    # answer wait for the first one's (kept) instead of each asking the ML engine again.
    forecast_turns: Turns = field(default_factory=Turns)

    def now(self) -> datetime:
        return self.clock()

    def record(self, uow: EducationUnitOfWork, action: str, client: Client, **fields: Any) -> None:
        """An audit entry, dated now, in the unit of work's transaction."""
        audit.record(uow.audit, self.now(), action, client, **fields)


def is_admin(caller: Caller) -> bool:
    return ADMIN_ROLE in caller.roles


def has_pro(caller: Caller) -> bool:
    """Pro courses: plan pro, or a role no plan check applies to (admins), as at the edge."""
    return has_plan(caller, (PRO,))
