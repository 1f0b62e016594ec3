"""What billing's use cases work with, built by wiring.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from business.audit import domain as audit
from business.audit.domain import Client
from business.billing.domain.plans import Plan
from business.billing.domain.ports import BillingUnitOfWork, PaymentProvider, TokenRevocations, Transactions
from service_runtime.errors import FailedPrecondition


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Billing:
    plans: tuple[Plan, ...]
    configured: bool  # Stripe keys and prices are set: plans can be bought
    transactions: Transactions | None = None
    provider: PaymentProvider | None = None
    revocations: TokenRevocations | None = None  # a plan change revokes the user's older tokens
    web_url: str = "http://localhost:8080"  # where Checkout and the portal send the browser back
    clock: Callable[[], datetime] = utcnow

    def now(self) -> datetime:
        return self.clock()

    def stripe(self) -> tuple[Transactions, PaymentProvider]:
        """The store and the provider; FAILED_PRECONDITION when billing is not configured."""
        if not self.configured or self.transactions is None or self.provider is None:
            raise FailedPrecondition("billing is not configured (no Stripe keys): an admin sets plans")
        return self.transactions, self.provider

    def record(self, uow: BillingUnitOfWork, action: str, client: Client, **fields: Any) -> None:
        """An audit entry, dated now, in the unit of work's transaction."""
        audit.record(uow.audit, self.now(), action, client, **fields)
