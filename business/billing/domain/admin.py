"""Billing for admins: one customer's ledger, refunds through Stripe (audited when asked, before
Stripe is called, and with the refunded amount before and after once done), the figures (active
subscriptions, MRR, churn: docs/billing.md) and the webhook events whose processing failed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from business.audit.domain import Client
from business.billing.domain.context import Billing
from business.billing.domain.entities import Figures, Invoice, Payment, Refund, StoredEvent, SubscriptionState
from business.billing.domain.ports import BillingUnitOfWork
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

CHURN_WINDOW = timedelta(days=30)
LEDGER_LIMIT = 100
REFUND_REASONS = frozenset({"", "requested_by_customer", "duplicate", "fraudulent"})


@dataclass(frozen=True)
class CustomerView:
    user_id: str
    stripe_customer_id: str
    subscription: SubscriptionState | None
    invoices: list[Invoice]
    payments: list[Payment]
    refunds: list[Refund]


async def customer_view(billing: Billing, user_id: str) -> CustomerView:
    if not user_id:
        raise InvalidArgument.field("user_id", "is required")
    transactions, _ = billing.stripe()

    def read(uow: BillingUnitOfWork) -> CustomerView:
        if uow.customers.email_of(user_id) is None:
            raise NotFound("no such account")
        customer = uow.customers.of_user(user_id)
        return CustomerView(
            user_id=user_id,
            stripe_customer_id=customer.stripe_customer_id if customer else "",
            subscription=uow.subscriptions.current_of(user_id),
            invoices=uow.ledger.invoices_of(user_id, LEDGER_LIMIT),
            payments=uow.ledger.payments_of(user_id, LEDGER_LIMIT),
            refunds=uow.ledger.refunds_of(user_id, LEDGER_LIMIT),
        )

    return await transactions.run(read)


async def refund_payment(
    billing: Billing, actor_id: str, payment_id: str, amount: int, reason: str, client: Client
) -> tuple[Refund, Payment]:
    """Refunds `amount` minor units of the payment (0: all that is left) through Stripe."""
    if not payment_id:
        raise InvalidArgument.field("payment_id", "is required")
    if amount < 0:
        raise InvalidArgument.field("amount_minor", "must be positive, or 0 for all that is left")
    if reason not in REFUND_REASONS:
        raise InvalidArgument.field("reason", "is not one of Stripe's refund reasons")
    transactions, provider = billing.stripe()
    payment = await transactions.run(lambda uow: uow.ledger.payment(payment_id))
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    if payment.status != "succeeded":
        raise FailedPrecondition(f"payment {payment_id} did not succeed: nothing to refund")
    left = payment.amount - payment.amount_refunded
    amount = amount or left
    if left <= 0 or amount > left:
        raise InvalidArgument.field("amount_minor", f"at most {left} is left to refund")
    # The same refund asked twice at once (two clicks, two admins) is one refund at Stripe.
    key = f"refund-{payment_id}-{payment.amount_refunded}-{amount}"

    def requested(uow: BillingUnitOfWork) -> None:
        """Written before Stripe is called: a refund Stripe made is never without its audit row,
        even when storing what Stripe answered fails."""
        billing.record(
            uow,
            "billing.refund.requested",
            client,
            actor_id=actor_id,
            subject_id=payment.user_id,
            detail={
                "payment_id": payment_id,
                "amount_minor": amount,
                "reason": reason,
                "idempotency_key": key,
            },
        )

    await transactions.run(requested)
    refund = replace(await provider.create_refund(payment_id, amount, reason, key), user_id=payment.user_id)

    def store(uow: BillingUnitOfWork) -> Payment:
        uow.ledger.save_refund(refund)
        after = uow.ledger.payment(payment_id)
        assert after is not None
        billing.record(
            uow,
            "billing.refund",
            client,
            actor_id=actor_id,
            subject_id=payment.user_id,
            before={"amount_refunded_minor": payment.amount_refunded},
            after={"amount_refunded_minor": after.amount_refunded},
            detail={
                "payment_id": payment_id,
                "refund_id": refund.id,
                "amount_minor": refund.amount,
                "currency": refund.currency,
                "reason": reason,
            },
        )
        return after

    return refund, await transactions.run(store)


async def figures(billing: Billing) -> Figures:
    transactions, _ = billing.stripe()
    now = billing.now()
    return await transactions.run(lambda uow: uow.subscriptions.figures(now, now - CHURN_WINDOW))


async def events(billing: Billing, include_processed: bool, limit: int) -> list[StoredEvent]:
    if limit < 0 or limit > 200:
        raise InvalidArgument.field("limit", "must be between 0 and 200 (0: 50)")
    transactions, _ = billing.stripe()
    return await transactions.run(lambda uow: uow.events.listed(include_processed, limit or 50))
