"""PlanService: the plans, public (the pricing page reads them without a token)."""

from __future__ import annotations

from business.billing.domain.context import Billing
from business.billing.domain.plans import Interval, Plan
from business.shared.proto_mapping import Context
from trading.billing.v1 import plan_service_pb2 as pb
from trading.billing.v1 import plan_service_pb2_grpc as pb_grpc

INTERVAL_TO_PB = {
    Interval.MONTHLY: pb.BILLING_INTERVAL_MONTHLY,
    Interval.YEARLY: pb.BILLING_INTERVAL_YEARLY,
}


def plan_message(plan: Plan) -> pb.Plan:
    return pb.Plan(
        id=plan.id,
        name=plan.name,
        summary=plan.summary,
        features=list(plan.features),
        prices=[
            pb.Price(
                interval=INTERVAL_TO_PB[p.interval],
                amount_minor=p.amount_minor,
                currency=p.currency,
                purchasable=p.purchasable,
            )
            for p in plan.prices
        ],
        exclusive_rpcs=list(plan.exclusive_rpcs),
    )


class PlanHandlers(pb_grpc.PlanServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def ListPlans(self, request: pb.ListPlansRequest, context: Context) -> pb.ListPlansResponse:
        return pb.ListPlansResponse(
            plans=[plan_message(p) for p in self.billing.plans], billing_configured=self.billing.configured
        )
