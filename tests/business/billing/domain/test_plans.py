"""The plan catalogue: plans in order, prices from the settings, plan-only RPCs from the protos'
access rules, and docs/plans.md in step with those rules."""

from __future__ import annotations

import re
from pathlib import Path

from business.billing.domain.plans import FREE, PRO, Interval, PriceSettings, RateLimits, catalogue, price_of
from business.billing.wiring import features_by_plan, plan_limits_by_rpc, plans_by_rpc
from business.config import BusinessSettings
from trading.common.v1 import access_pb2

ROOT = Path(__file__).resolve().parents[4]
PRO_COURSES = "/trading.education.v1.LearningService/EnrollProCourse"


def test_catalogue_lists_free_then_pro_with_pro_prices() -> None:
    prices = PriceSettings(1900, 19000, "eur", monthly_price_id="price_m")
    plans = catalogue(prices, {PRO_COURSES: ["pro"], "/x.Y/Z": ["free", "pro"]})
    assert [p.id for p in plans] == [FREE, PRO]
    assert plans[0].prices == ()
    monthly = price_of(plans, PRO, Interval.MONTHLY)
    yearly = price_of(plans, PRO, Interval.YEARLY)
    assert monthly is not None and (monthly.amount_minor, monthly.currency, monthly.purchasable) == (
        1900,
        "eur",
        True,
    )
    assert yearly is not None and (yearly.amount_minor, yearly.purchasable) == (19000, False)
    assert plans[1].exclusive_rpcs == (PRO_COURSES, "/x.Y/Z")
    assert plans[0].exclusive_rpcs == ("/x.Y/Z",)
    assert price_of(plans, FREE, Interval.MONTHLY) is None


def test_the_protos_declare_pro_courses_pro_only() -> None:
    assert plans_by_rpc()[PRO_COURSES] == ["pro"]
    assert all(set(plans) <= {FREE, PRO} for plans in plans_by_rpc().values())


def test_docs_list_every_plan_restricted_rpc() -> None:
    text = (ROOT / "docs" / "plans.md").read_text()
    block = text.split("<!-- plan-rpcs:start -->", 1)[1].split("<!-- plan-rpcs:end -->", 1)[0]
    documented = {path: plans.split(", ") for path, plans in re.findall(r"- `([^`]+)`: (.+)", block)}
    assert documented == plans_by_rpc(), "docs/plans.md's list of plan-only RPCs is stale"


def limit_line(path: str, limit: access_pb2.PlanLimit) -> str:
    plans = ", ".join(limit.plans)
    if limit.max_span_days:
        what = f"a range over {limit.max_span_days} days needs {plans}"
    elif limit.open_values:
        what = f"any value but {', '.join(f'`{v}`' for v in limit.open_values)} needs {plans}"
    else:
        what = f"{', '.join(f'`{v}`' for v in limit.plan_values)} needs {plans}"
    return f"- `{path}` `{limit.field}`: {what}"


def test_docs_list_every_request_value_a_plan_reserves() -> None:
    text = (ROOT / "docs" / "plans.md").read_text()
    block = text.split("<!-- plan-limits:start -->", 1)[1].split("<!-- plan-limits:end -->", 1)[0]
    expected = sorted(
        limit_line(path, limit) for path, limits in plan_limits_by_rpc().items() for limit in limits
    )
    assert block.strip().splitlines() == expected, "docs/plans.md's list of plan limits is stale"


def test_pro_features_come_from_the_access_rules_in_words() -> None:
    declared = features_by_plan()
    assert "Every prediction horizon (scalping, swing, position, all at once)" in declared[PRO]
    assert len(declared[PRO]) == len(set(declared[PRO]))  # each said once
    assert FREE not in declared  # free reserves nothing
    plans = catalogue(PriceSettings(1900, 19000, "usd"), plans_by_rpc(), declared)
    assert plans[1].features[0] == "Everything in free"
    assert set(declared[PRO]) <= set(plans[1].features)
    assert plans[1].features[-1] == "600 model calls per minute (free: 30)"
    assert plans[0].features[-1] == "30 model calls per minute"
    # Every plan limit and every plan-only RPC says what it opens, for the pricing page.
    assert all(limit.feature for limits in plan_limits_by_rpc().values() for limit in limits)


def test_the_pricing_page_states_the_rate_limits_the_ml_engine_enforces() -> None:
    """The numbers come from the same settings (ML_RATE_LIMIT_*) the engine's limiter reads."""
    settings = BusinessSettings(ml_rate_limit_free=12, ml_rate_limit_pro=1200, ml_rate_limit_window_s=3600)
    limits = RateLimits(settings.rate_limits().per_plan, settings.ml_rate_limit_window_s)
    free, pro = catalogue(PriceSettings(1900, 19000, "usd"), plans_by_rpc(), features_by_plan(), limits)
    assert free.features[-1] == "12 model calls per hour"
    assert pro.features[-1] == "1,200 model calls per hour (free: 12)"
