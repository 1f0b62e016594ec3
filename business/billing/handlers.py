"""PlanService (the plans, public: the pricing page reads them without a token),
SubscriptionService (the caller's subscription through Stripe) and StripeEventService (Stripe's
webhook events, from the gateway)."""

from __future__ import annotations

from business.billing.domain import subscriptions, webhooks
from business.billing.domain.context import Billing
from business.billing.domain.entities import SubscriptionState
from business.billing.domain.plans import FREE, Interval, Plan
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_timestamp
from trading.billing.v1 import plan_service_pb2 as pb
from trading.billing.v1 import plan_service_pb2_grpc as pb_grpc
from trading.billing.v1 import stripe_event_service_pb2 as event_pb
from trading.billing.v1 import stripe_event_service_pb2_grpc as event_grpc
from trading.billing.v1 import subscription_service_pb2 as sub_pb
from trading.billing.v1 import subscription_service_pb2_grpc as sub_grpc

INTERVAL_TO_PB = {
    Interval.MONTHLY: pb.BILLING_INTERVAL_MONTHLY,
    Interval.YEARLY: pb.BILLING_INTERVAL_YEARLY,
}
INTERVAL_FROM_PB = {value: key for key, value in INTERVAL_TO_PB.items()}


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


def subscription_message(state: SubscriptionState | None) -> sub_pb.Subscription:
    if state is None:
        return sub_pb.Subscription(plan=FREE)
    message = sub_pb.Subscription(
        plan=state.plan,
        status=state.status,
        interval=INTERVAL_TO_PB[state.interval] if state.interval else pb.BILLING_INTERVAL_UNSPECIFIED,
        cancel_at_period_end=state.cancel_at_period_end,
        subscription_id=state.subscription_id,
    )
    if state.current_period_end is not None:
        message.current_period_end.CopyFrom(to_timestamp(state.current_period_end))
    return message


class SubscriptionHandlers(sub_grpc.SubscriptionServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def GetSubscription(
        self, request: sub_pb.GetSubscriptionRequest, context: Context
    ) -> sub_pb.GetSubscriptionResponse:
        state = await subscriptions.current_subscription(self.billing, current_caller())
        return sub_pb.GetSubscriptionResponse(subscription=subscription_message(state))

    async def CreateCheckoutSession(
        self, request: sub_pb.CreateCheckoutSessionRequest, context: Context
    ) -> sub_pb.CreateCheckoutSessionResponse:
        interval = INTERVAL_FROM_PB.get(request.interval)
        if interval is None:
            raise InvalidArgument.field(
                "interval", "must be BILLING_INTERVAL_MONTHLY or BILLING_INTERVAL_YEARLY"
            )
        session_id, url = await subscriptions.start_checkout(
            self.billing, current_caller(), interval, client_of(context)
        )
        return sub_pb.CreateCheckoutSessionResponse(url=url, session_id=session_id)

    async def CreatePortalSession(
        self, request: sub_pb.CreatePortalSessionRequest, context: Context
    ) -> sub_pb.CreatePortalSessionResponse:
        return sub_pb.CreatePortalSessionResponse(
            url=await subscriptions.open_portal(self.billing, current_caller())
        )

    async def CancelSubscription(
        self, request: sub_pb.CancelSubscriptionRequest, context: Context
    ) -> sub_pb.CancelSubscriptionResponse:
        state = await subscriptions.set_cancel_at_period_end(
            self.billing, current_caller(), True, client_of(context)
        )
        return sub_pb.CancelSubscriptionResponse(subscription=subscription_message(state))

    async def ResumeSubscription(
        self, request: sub_pb.ResumeSubscriptionRequest, context: Context
    ) -> sub_pb.ResumeSubscriptionResponse:
        state = await subscriptions.set_cancel_at_period_end(
            self.billing, current_caller(), False, client_of(context)
        )
        return sub_pb.ResumeSubscriptionResponse(subscription=subscription_message(state))


class StripeEventHandlers(event_grpc.StripeEventServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def RecordStripeEvent(
        self, request: event_pb.RecordStripeEventRequest, context: Context
    ) -> event_pb.RecordStripeEventResponse:
        outcome = await webhooks.record_event(self.billing, request.payload)
        return event_pb.RecordStripeEventResponse(
            event_id=outcome.event_id, duplicate=outcome.duplicate, ignored=outcome.ignored
        )
