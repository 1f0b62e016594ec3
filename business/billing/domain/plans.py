"""The plans and what each gives. Which RPCs a plan opens is declared in the protos' access rules
(`plans`); the catalogue here carries the words for people and the prices.

docs/plans.md is the matrix in full; tests keep the two in step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

FREE = "free"
PRO = "pro"
PLAN_IDS = (FREE, PRO)  # the lesser plan first


class Interval(StrEnum):
    MONTHLY = "monthly"
    YEARLY = "yearly"


@dataclass(frozen=True)
class Price:
    interval: Interval
    amount_minor: int  # in the currency's minor units (cents)
    currency: str  # ISO 4217, lower case ("usd")
    stripe_price_id: str  # empty: not configured, so not for sale

    @property
    def purchasable(self) -> bool:
        return bool(self.stripe_price_id)


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    summary: str
    features: tuple[str, ...]
    prices: tuple[Price, ...]
    exclusive_rpcs: tuple[str, ...]  # RPCs whose access rule lists this plan


@dataclass(frozen=True)
class PriceSettings:
    """What the deployment says pro costs, and its Stripe price ids."""

    monthly_amount_minor: int
    yearly_amount_minor: int
    currency: str
    monthly_price_id: str = ""
    yearly_price_id: str = ""


FREE_FEATURES = (
    "Market history and every technical indicator",
    "Backtests of the classic strategies over up to one year of data",
    "Intraday predictions and 1h signals",
    "Model cards and live prediction scores",
    "Free courses",
)
# Pro's own lines come from the access rules (plan_feature / plan_limits.feature): these frame them.
PRO_FEATURES_BEFORE = ("Everything in free",)


@dataclass(frozen=True)
class RateLimits:
    """The ML engine's per-plan limits (ML_RATE_LIMIT_*): model calls per user per window."""

    calls: Mapping[str, int]
    window_s: int

    def line(self, plan_id: str) -> str:
        return f"{self.calls[plan_id]:,} model calls per {_window_words(self.window_s)}"


def _window_words(seconds: int) -> str:
    named = {60: "minute", 3600: "hour", 86400: "day"}
    return named.get(seconds) or f"{seconds} seconds"


def catalogue(
    prices: PriceSettings,
    plans_by_rpc: Mapping[str, Sequence[str]],
    features_by_plan: Mapping[str, Sequence[str]] | None = None,
    rate_limits: RateLimits | None = None,
) -> tuple[Plan, ...]:
    """Every plan, free first, with the RPCs only it opens and what it opens in words (both from
    the access rules), and each plan's rate limit in numbers."""

    def exclusive(plan_id: str) -> tuple[str, ...]:
        return tuple(sorted(path for path, plans in plans_by_rpc.items() if plan_id in plans))

    declared = features_by_plan or {}
    limits = rate_limits or RateLimits({FREE: 30, PRO: 600}, 60)
    free_features = (*FREE_FEATURES, limits.line(FREE))
    pro_features = (
        *PRO_FEATURES_BEFORE,
        *declared.get(PRO, ()),
        f"{limits.line(PRO)} (free: {limits.calls[FREE]:,})",
    )
    pro_prices = (
        Price(Interval.MONTHLY, prices.monthly_amount_minor, prices.currency, prices.monthly_price_id),
        Price(Interval.YEARLY, prices.yearly_amount_minor, prices.currency, prices.yearly_price_id),
    )
    return (
        Plan(FREE, "Free", "Learn and explore the markets.", free_features, (), exclusive(FREE)),
        Plan(PRO, "Pro", "Trade with every model, live.", pro_features, pro_prices, exclusive(PRO)),
    )


def price_of(plans: Sequence[Plan], plan_id: str, interval: Interval) -> Price | None:
    for plan in plans:
        if plan.id == plan_id:
            return next((p for p in plan.prices if p.interval == interval), None)
    return None
