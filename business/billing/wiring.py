"""Builds billing's dependencies from the settings: the plan catalogue (prices from the settings,
plan-exclusive RPCs from the access rules of every contract)."""

from __future__ import annotations

from business.billing.domain.context import Billing
from business.billing.domain.plans import PriceSettings, catalogue
from business.config import BusinessSettings
from service_runtime.access import access_rules
from service_runtime.contracts import platform_services


def plans_by_rpc() -> dict[str, list[str]]:
    """RPC path -> the plans its access rule lists (only RPCs that list some)."""
    rules = access_rules(platform_services(), foreign={})
    return {path: list(rule.plans) for path, rule in rules.items() if rule.plans}


def build_billing(settings: BusinessSettings) -> Billing:
    prices = PriceSettings(
        monthly_amount_minor=settings.pro_monthly_amount_minor,
        yearly_amount_minor=settings.pro_yearly_amount_minor,
        currency=settings.billing_currency,
        monthly_price_id=settings.stripe_price_pro_monthly,
        yearly_price_id=settings.stripe_price_pro_yearly,
    )
    configured = bool(settings.stripe_secret_key and (prices.monthly_price_id or prices.yearly_price_id))
    return Billing(plans=catalogue(prices, plans_by_rpc()), configured=configured)
