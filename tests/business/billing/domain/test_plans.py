"""The plan catalogue: plans in order, prices from the settings, plan-only RPCs from the protos'
access rules, and docs/plans.md in step with those rules."""

from __future__ import annotations

import re
from pathlib import Path

from business.billing.domain.plans import FREE, PRO, Interval, PriceSettings, catalogue, price_of
from business.billing.wiring import plans_by_rpc

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
