"""PlanService (the plans, public: the pricing page reads them without a token),
SubscriptionService (the caller's subscription through Stripe), StripeEventService (Stripe's
webhook events, from the gateway) and BillingAdminService (ledger, refunds, figures, failed events)."""

from __future__ import annotations

from business.billing.domain import admin, maintenance, subscriptions, webhooks
from business.billing.domain.context import Billing
from business.billing.domain.entities import (
    LIVE_STATUSES,
    Invoice,
    Payment,
    Refund,
    StoredEvent,
    SubscriptionState,
)
from business.billing.domain.plans import FREE, Interval, Plan
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_optional_timestamp, to_timestamp
from trading.billing.v1 import billing_admin_service_pb2 as admin_pb
from trading.billing.v1 import billing_admin_service_pb2_grpc as admin_grpc
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


def subscription_message(billing: Billing, state: SubscriptionState | None) -> sub_pb.Subscription:
    if state is None:
        return sub_pb.Subscription(plan=FREE)
    return sub_pb.Subscription(
        plan=billing.plan_of(state),
        status=state.status,
        interval=INTERVAL_TO_PB[state.interval] if state.interval else pb.BILLING_INTERVAL_UNSPECIFIED,
        cancel_at_period_end=state.cancel_at_period_end,
        subscription_id=state.subscription_id,
        amount_minor=state.amount_minor,
        currency=state.currency,
        current_period_end=to_optional_timestamp(state.current_period_end),
        grace_ends_at=to_optional_timestamp(state.grace_ends_at(billing.past_due_grace)),
    )


def invoice_message(invoice: Invoice) -> sub_pb.Invoice:
    return sub_pb.Invoice(
        invoice_id=invoice.id,
        status=invoice.status,
        amount_due_minor=invoice.amount_due,
        amount_paid_minor=invoice.amount_paid,
        currency=invoice.currency,
        created_at=to_timestamp(invoice.created),
        hosted_invoice_url=invoice.hosted_invoice_url,
        subscription_id=invoice.subscription_id,
    )


def next_invoice(state: SubscriptionState | None) -> sub_pb.UpcomingInvoice | None:
    """The next renewal: a live subscription that will renew at its period's end."""
    if (
        state is None
        or state.status not in LIVE_STATUSES
        or state.cancel_at_period_end
        or state.current_period_end is None
    ):
        return None
    return sub_pb.UpcomingInvoice(
        amount_minor=state.amount_minor,
        currency=state.currency,
        due_at=to_timestamp(state.current_period_end),
    )


def interval_of(value: pb.BillingInterval.ValueType) -> Interval:
    interval = INTERVAL_FROM_PB.get(value)
    if interval is None:
        raise InvalidArgument.field("interval", "must be BILLING_INTERVAL_MONTHLY or BILLING_INTERVAL_YEARLY")
    return interval


class SubscriptionHandlers(sub_grpc.SubscriptionServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def GetSubscription(
        self, request: sub_pb.GetSubscriptionRequest, context: Context
    ) -> sub_pb.GetSubscriptionResponse:
        overview = await subscriptions.overview_of(self.billing, current_caller())
        return sub_pb.GetSubscriptionResponse(
            subscription=subscription_message(self.billing, overview.subscription),
            invoices=[invoice_message(i) for i in overview.invoices],
            next_invoice=next_invoice(overview.subscription),
            account_plan=overview.account_plan,
        )

    async def CreateCheckoutSession(
        self, request: sub_pb.CreateCheckoutSessionRequest, context: Context
    ) -> sub_pb.CreateCheckoutSessionResponse:
        interval = interval_of(request.interval)
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
        return sub_pb.CancelSubscriptionResponse(subscription=subscription_message(self.billing, state))

    async def ChangeBillingInterval(
        self, request: sub_pb.ChangeBillingIntervalRequest, context: Context
    ) -> sub_pb.ChangeBillingIntervalResponse:
        interval = interval_of(request.interval)
        state = await subscriptions.change_interval(
            self.billing, current_caller(), interval, client_of(context)
        )
        return sub_pb.ChangeBillingIntervalResponse(subscription=subscription_message(self.billing, state))

    async def ResumeSubscription(
        self, request: sub_pb.ResumeSubscriptionRequest, context: Context
    ) -> sub_pb.ResumeSubscriptionResponse:
        state = await subscriptions.set_cancel_at_period_end(
            self.billing, current_caller(), False, client_of(context)
        )
        return sub_pb.ResumeSubscriptionResponse(subscription=subscription_message(self.billing, state))


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


REFUND_REASONS = {
    admin_pb.REFUND_REASON_UNSPECIFIED: "",
    admin_pb.REFUND_REASON_REQUESTED_BY_CUSTOMER: "requested_by_customer",
    admin_pb.REFUND_REASON_DUPLICATE: "duplicate",
    admin_pb.REFUND_REASON_FRAUDULENT: "fraudulent",
}


def payment_message(payment: Payment) -> admin_pb.Payment:
    return admin_pb.Payment(
        payment_id=payment.id,
        invoice_id=payment.invoice_id,
        status=payment.status,
        amount_minor=payment.amount,
        amount_refunded_minor=payment.amount_refunded,
        currency=payment.currency,
        created_at=to_timestamp(payment.created),
    )


def refund_message(refund: Refund) -> admin_pb.Refund:
    return admin_pb.Refund(
        refund_id=refund.id,
        payment_id=refund.payment_id,
        amount_minor=refund.amount,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
        created_at=to_timestamp(refund.created),
    )


def event_message(event: StoredEvent) -> admin_pb.StripeEvent:
    return admin_pb.StripeEvent(
        event_id=event.id,
        type=event.type,
        created_at=to_timestamp(event.created),
        attempts=event.attempts,
        last_error=event.last_error,
        processed_at=to_optional_timestamp(event.processed_at),
        next_attempt_at=to_optional_timestamp(event.next_attempt_at),
    )


class BillingAdminHandlers(admin_grpc.BillingAdminServiceServicer):
    def __init__(self, billing: Billing) -> None:
        self.billing = billing

    async def GetBillingCustomer(
        self, request: admin_pb.GetBillingCustomerRequest, context: Context
    ) -> admin_pb.GetBillingCustomerResponse:
        view = await admin.customer_view(self.billing, request.user_id)
        return admin_pb.GetBillingCustomerResponse(
            user_id=view.user_id,
            stripe_customer_id=view.stripe_customer_id,
            subscription=subscription_message(self.billing, view.subscription),
            invoices=[invoice_message(i) for i in view.invoices],
            payments=[payment_message(p) for p in view.payments],
            refunds=[refund_message(r) for r in view.refunds],
        )

    async def RefundPayment(
        self, request: admin_pb.RefundPaymentRequest, context: Context
    ) -> admin_pb.RefundPaymentResponse:
        reason = REFUND_REASONS.get(request.reason)
        if reason is None:
            raise InvalidArgument.field("reason", "is not a RefundReason")
        refund, payment = await admin.refund_payment(
            self.billing,
            current_caller().subject,
            request.payment_id,
            request.amount_minor,
            reason,
            client_of(context),
        )
        return admin_pb.RefundPaymentResponse(refund=refund_message(refund), payment=payment_message(payment))

    async def GetBillingFigures(
        self, request: admin_pb.GetBillingFiguresRequest, context: Context
    ) -> admin_pb.GetBillingFiguresResponse:
        figures = await admin.figures(self.billing)
        return admin_pb.GetBillingFiguresResponse(
            active_subscriptions=figures.active,
            past_due_subscriptions=figures.past_due,
            mrr_minor=figures.mrr_minor,
            currency=figures.currency,
            churned_last_30_days=figures.churned,
            live_30_days_ago=figures.live_at_window_start,
            churn_rate=figures.churn_rate,
        )

    async def ListStripeEvents(
        self, request: admin_pb.ListStripeEventsRequest, context: Context
    ) -> admin_pb.ListStripeEventsResponse:
        events = await admin.events(self.billing, request.include_processed, request.limit)
        return admin_pb.ListStripeEventsResponse(events=[event_message(e) for e in events])

    async def RetryStripeEvent(
        self, request: admin_pb.RetryStripeEventRequest, context: Context
    ) -> admin_pb.RetryStripeEventResponse:
        if not request.event_id:
            raise InvalidArgument.field("event_id", "is required")
        event = await maintenance.retry_event(
            self.billing, request.event_id, current_caller().subject, client_of(context)
        )
        return admin_pb.RetryStripeEventResponse(event=event_message(event))
