"""What the education use cases share: the ports, the clock and the audit helper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from business.audit import domain as audit
from business.audit.domain import Client
from business.education.domain.entities import ADMIN_ROLE, PRO
from business.education.domain.ports import EducationUnitOfWork, MarketData, Transactions
from service_runtime.caller import Caller, plan_exempt


def utcnow() -> datetime:
    return datetime.now(UTC)


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

    def now(self) -> datetime:
        return self.clock()

    def record(self, uow: EducationUnitOfWork, action: str, client: Client, **fields: Any) -> None:
        """An audit entry, dated now, in the unit of work's transaction."""
        audit.record(uow.audit, self.now(), action, client, **fields)


def is_admin(caller: Caller) -> bool:
    return ADMIN_ROLE in caller.roles


def may_see(caller: Caller, plans: tuple[str, ...]) -> bool:
    """Whether the caller's plan is among `plans` (empty: every plan), or no plan check applies."""
    return not plans or caller.plan in plans or plan_exempt(caller)


def has_pro(caller: Caller) -> bool:
    """Pro courses: plan pro, or a role no plan check applies to (admins), as at the edge."""
    return caller.plan == PRO or plan_exempt(caller)
