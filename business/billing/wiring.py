"""Builds billing's dependencies from the settings: the plan catalogue (prices from the settings,
plan-exclusive RPCs from the access rules of every contract), the store and Stripe."""

from __future__ import annotations

from datetime import timedelta

from business.billing.adapters.stripe_api import StripePayments
from business.billing.data.repositories import SqlBillingUnitOfWork
from business.billing.domain.context import Billing
from business.billing.domain.plans import PriceSettings, RateLimits, catalogue
from business.billing.domain.ports import TokenRevocations
from business.config import BusinessSettings
from business.shared.database import BusinessStore
from service_runtime.access import access_rules
from service_runtime.contracts import platform_services
from trading.common.v1 import access_pb2


def plans_by_rpc() -> dict[str, list[str]]:
    """RPC path -> the plans its access rule lists (only RPCs that list some)."""
    rules = access_rules(platform_services(), foreign={})
    return {path: list(rule.plans) for path, rule in rules.items() if rule.plans}


def plan_limits_by_rpc() -> dict[str, list[access_pb2.PlanLimit]]:
    """RPC path -> the request values its access rule reserves for some plans."""
    rules = access_rules(platform_services(), foreign={})
    return {path: list(rule.plan_limits) for path, rule in rules.items() if rule.plan_limits}


def features_by_plan() -> dict[str, list[str]]:
    """Plan -> what the access rules say it opens, in words, in RPC order (whole RPCs first)."""
    rules = sorted(access_rules(platform_services(), foreign={}).items())
    features: dict[str, list[str]] = {}
    for _, rule in rules:
        for plan in rule.plans:
            if rule.plan_feature:
                features.setdefault(plan, []).append(rule.plan_feature)
    for _, rule in rules:
        for limit in rule.plan_limits:
            for plan in limit.plans:
                if limit.feature:
                    features.setdefault(plan, []).append(limit.feature)
    return features


def build_billing(
    settings: BusinessSettings,
    store: BusinessStore | None = None,
    revocations: TokenRevocations | None = None,
) -> Billing:
    prices = PriceSettings(
        monthly_amount_minor=settings.pro_monthly_amount_minor,
        yearly_amount_minor=settings.pro_yearly_amount_minor,
        currency=settings.billing_currency,
        monthly_price_id=settings.stripe_price_pro_monthly,
        yearly_price_id=settings.stripe_price_pro_yearly,
    )
    configured = bool(settings.stripe_secret_key and (prices.monthly_price_id or prices.yearly_price_id))
    return Billing(
        plans=catalogue(
            prices,
            plans_by_rpc(),
            features_by_plan(),
            RateLimits(settings.rate_limits().per_plan, settings.ml_rate_limit_window_s),
        ),
        configured=configured,
        transactions=store.units_of_work(SqlBillingUnitOfWork) if store is not None else None,
        provider=StripePayments(settings.stripe_secret_key, settings.stripe_api_base_url)
        if configured
        else None,
        revocations=revocations,
        web_url=settings.public_web_url.rstrip("/"),
        past_due_grace=timedelta(seconds=settings.billing_past_due_grace_s),
        retry_base=timedelta(seconds=settings.billing_event_retry_base_s),
        max_attempts=settings.billing_event_max_attempts,
    )
