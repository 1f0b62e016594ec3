"""PlanService through a real in-process server behind the production interceptors: public (no
token), the plans with their prices and plan-only RPCs, and whether billing is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from business.billing.handlers import PlanHandlers
from business.billing.wiring import build_billing
from business.config import BusinessSettings
from service_runtime.in_process import serve_in_process
from tests.support.in_process import TestCallers
from trading.billing.v1 import plan_service_pb2 as pb
from trading.billing.v1 import plan_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["PlanService"].full_name


async def _plans(tmp_path: Path, settings: BusinessSettings) -> pb.ListPlansResponse:
    handlers = PlanHandlers(build_billing(settings))
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_PlanServiceServicer_to_server(handlers, server)],
        verifier=TestCallers(tmp_path / "keys").verifier(),
    ) as served:
        return await pb_grpc.PlanServiceStub(served.channel).ListPlans(pb.ListPlansRequest())


@pytest.fixture
async def unconfigured(tmp_path: Path) -> AsyncIterator[pb.ListPlansResponse]:
    yield await _plans(tmp_path, BusinessSettings(_env_file=None))  # type: ignore[call-arg]


async def test_without_stripe_keys_plans_are_listed_but_not_for_sale(
    unconfigured: pb.ListPlansResponse,
) -> None:
    assert unconfigured.billing_configured is False
    free, pro = unconfigured.plans
    assert (free.id, pro.id) == ("free", "pro")
    assert not free.prices and free.features
    assert [(p.interval, p.amount_minor, p.currency, p.purchasable) for p in pro.prices] == [
        (pb.BILLING_INTERVAL_MONTHLY, 1900, "usd", False),
        (pb.BILLING_INTERVAL_YEARLY, 19000, "usd", False),
    ]
    assert "/trading.education.v1.LearningService/EnrollProCourse" in pro.exclusive_rpcs
    assert not free.exclusive_rpcs


async def test_with_stripe_keys_and_a_price_id_that_price_is_for_sale(tmp_path: Path) -> None:
    settings = BusinessSettings(  # type: ignore[call-arg]
        _env_file=None,
        stripe_secret_key="sk_test_x",
        stripe_price_pro_yearly="price_yearly",
        pro_yearly_amount_minor=15000,
        billing_currency="eur",
    )
    plans = await _plans(tmp_path, settings)
    assert plans.billing_configured is True
    assert [(p.amount_minor, p.currency, p.purchasable) for p in plans.plans[1].prices] == [
        (1900, "eur", False),
        (15000, "eur", True),
    ]


async def test_no_token_is_needed_but_an_unknown_method_is_refused(tmp_path: Path) -> None:
    handlers = PlanHandlers(build_billing(BusinessSettings(_env_file=None)))  # type: ignore[call-arg]
    async with serve_in_process(
        service_names=[SERVICE],
        registrars=[lambda server: pb_grpc.add_PlanServiceServicer_to_server(handlers, server)],
        verifier=TestCallers(tmp_path / "keys").verifier(),
    ) as served:
        reply = await pb_grpc.PlanServiceStub(served.channel).ListPlans(
            pb.ListPlansRequest(), metadata=(("authorization", "Bearer not-a-token"),)
        )
        assert len(reply.plans) == 2  # public: a junk token is not even read
        unknown = served.channel.unary_unary(f"/{SERVICE}/DropPlans")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await unknown(b"")
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
