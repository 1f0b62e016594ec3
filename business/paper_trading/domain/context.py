"""Paper trading's dependencies, built by wiring.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from business.paper_trading.domain.entities import Costs
from business.paper_trading.domain.ports import Transactions


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class PaperTrading:
    transactions: Transactions
    # The backtester's cost settings (the same defaults: see BusinessSettings.paper_commission).
    costs: Costs
    clock: Callable[[], datetime] = utcnow
    new_id: Callable[[], str] = new_id
