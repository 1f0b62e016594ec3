"""What billing's use cases work with, built by wiring.py."""

from __future__ import annotations

from dataclasses import dataclass

from business.billing.domain.plans import Plan


@dataclass(frozen=True)
class Billing:
    plans: tuple[Plan, ...]
    configured: bool  # Stripe keys and prices are set: plans can be bought
