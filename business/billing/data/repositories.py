"""The billing domain's ports on SQLAlchemy, inside one transaction's Session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ScalarResult, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from business.audit.data import SqlAuditLog
from business.billing.data.tables import (
    CustomerRow,
    InvoiceRow,
    PaymentRow,
    RefundRow,
    SubscriptionRow,
    WebhookEventRow,
)
from business.billing.domain.entities import (
    LIVE_STATUSES,
    PAST_DUE,
    PRO_STATUSES,
    Customer,
    Figures,
    Invoice,
    Payment,
    Refund,
    StoredEvent,
    SubscriptionState,
)
from business.billing.domain.plans import PRO, Interval
from business.billing.domain.ports import NEW, PENDING, PROCESSED
from business.billing.domain.stripe_objects import StripeEvent
from business.identity.data.tables import UserRow
from business.shared.database import inserted_first
from service_runtime.errors import Aborted

# The ledger's tables, each listed per user, newest first.
_LedgerRow = TypeVar("_LedgerRow", InvoiceRow, PaymentRow, RefundRow)


class SqlCustomers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_user(self, user_id: str) -> Customer | None:
        row = self.session.get(CustomerRow, user_id) if len(user_id) <= 36 else None
        return Customer(row.user_id, row.stripe_customer_id) if row else None

    def add(self, customer: Customer) -> Customer:
        existing = self.of_user(customer.user_id)
        if existing is not None:
            return existing
        try:
            with self.session.begin_nested():
                self.session.add(
                    CustomerRow(
                        user_id=customer.user_id,
                        stripe_customer_id=customer.stripe_customer_id,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:  # two first checkouts at once: the other one stored it
            stored = self.of_user(customer.user_id)
            if stored is None:  # the Stripe customer is another user's: not a race
                raise
            return stored
        return customer

    def email_of(self, user_id: str) -> str | None:
        row = self.session.get(UserRow, user_id) if len(user_id) <= 36 else None
        return row.email if row else None

    def user_of(self, stripe_customer_id: str) -> str | None:
        return self.session.scalar(
            select(CustomerRow.user_id).where(CustomerRow.stripe_customer_id == stripe_customer_id)
        )


class SqlAccounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def set_plan(self, user_id: str, plan: str) -> str | None:
        row = self.session.get(UserRow, user_id, with_for_update=True) if len(user_id) <= 36 else None
        if row is None:
            return None
        before = row.plan
        if before != plan:
            row.plan = plan
            row.updated_at = datetime.now(UTC)
            self.session.flush()
        return before

    def plan_of(self, user_id: str) -> str | None:
        row = self.session.get(UserRow, user_id) if len(user_id) <= 36 else None
        return None if row is None else row.plan


class SqlWebhookEvents:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: StripeEvent, received_at: datetime) -> str:
        known = self.session.get(WebhookEventRow, event.id)
        if known is not None:
            return PROCESSED if known.processed_at is not None else PENDING
        row = WebhookEventRow(
            id=event.id,
            type=event.type[:100],
            created=event.created,
            received_at=received_at,
            attempts=0,
            last_error="",
            payload=event.payload,
        )
        # False: the same event delivered twice at once, and the other delivery stored it.
        return NEW if inserted_first(self.session, row) else PENDING

    def processed(self, event_id: str, at: datetime) -> None:
        row = self.session.get(WebhookEventRow, event_id, with_for_update=True)
        if row is not None:
            row.attempts += 1
            row.processed_at = at
            row.last_error = ""
            row.next_attempt_at = None
            self.session.flush()

    def failed(self, event_id: str, error: str, next_attempt: Callable[[int], datetime | None]) -> None:
        row = self.session.get(WebhookEventRow, event_id, with_for_update=True)
        if row is not None and row.processed_at is None:
            row.attempts += 1
            row.last_error = error
            row.next_attempt_at = next_attempt(row.attempts)
            self.session.flush()

    def get(self, event_id: str) -> StoredEvent | None:
        row = self.session.get(WebhookEventRow, event_id)
        return _event(row) if row is not None else None

    def payload_of(self, event_id: str) -> dict[str, Any] | None:
        row = self.session.get(WebhookEventRow, event_id)
        return dict(row.payload) if row is not None else None

    def claim_due(
        self, now: datetime, limit: int, stranded_before: datetime, lease_until: datetime
    ) -> list[str]:
        rows = list(
            self.session.scalars(
                select(WebhookEventRow)
                .where(
                    WebhookEventRow.processed_at.is_(None),
                    (WebhookEventRow.next_attempt_at <= now)
                    | (
                        WebhookEventRow.next_attempt_at.is_(None)
                        & (WebhookEventRow.attempts == 0)
                        & (WebhookEventRow.received_at <= stranded_before)
                    ),
                )
                .order_by(WebhookEventRow.created, WebhookEventRow.id)
                .limit(limit)
                # Another replica's sweep skips the rows this one is claiming.
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.next_attempt_at = lease_until
        self.session.flush()
        return [row.id for row in rows]

    def listed(self, include_processed: bool, limit: int) -> list[StoredEvent]:
        query = select(WebhookEventRow)
        if not include_processed:
            query = query.where(WebhookEventRow.processed_at.is_(None), WebhookEventRow.attempts > 0)
        rows = self.session.scalars(
            query.order_by(WebhookEventRow.received_at.desc(), WebhookEventRow.id).limit(limit)
        )
        return [_event(row) for row in rows]


def _event(row: WebhookEventRow) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        type=row.type,
        created=row.created,
        processed_at=row.processed_at,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
    )


def _state(row: SubscriptionRow) -> SubscriptionState:
    return SubscriptionState(
        subscription_id=row.id,
        user_id=row.user_id,
        customer_id=row.customer_id,
        status=row.status,
        price_id=row.price_id,
        interval=Interval(row.interval) if row.interval else None,
        current_period_end=row.current_period_end,
        cancel_at_period_end=row.cancel_at_period_end,
        state_at=row.state_at,
        amount_minor=row.amount_minor,
        currency=row.currency,
        started_at=row.started_at,
        ended_at=row.ended_at,
        past_due_since=row.past_due_since,
    )


def _flush_or_abort(session: Session, what: str) -> None:
    """Flushes; a row inserted by another transaction at the same time (the insert fails on its
    key) is Aborted: the whole transaction rolls back and the use case runs it again, finding the
    row (webhooks._apply_once_more_if_concurrent)."""
    try:
        session.flush()
    except IntegrityError:
        raise Aborted(f"{what} was stored concurrently", reason="CONCURRENT_UPDATE") from None


class SqlSubscriptions:
    def __init__(self, session: Session) -> None:
        self.session = session
        # Rows read for update by `get` in this unit of work (None: there was none), for `save`.
        self._read_for_update: dict[str, SubscriptionRow | None] = {}

    def current_of(self, user_id: str) -> SubscriptionState | None:
        live_first = case((SubscriptionRow.status.in_(LIVE_STATUSES), 0), else_=1)
        row = self.session.scalars(
            select(SubscriptionRow)
            .where(SubscriptionRow.user_id == user_id)
            .order_by(live_first, SubscriptionRow.state_at.desc(), SubscriptionRow.id)
            .limit(1)
        ).first()
        return _state(row) if row else None

    def of_user(self, user_id: str) -> list[SubscriptionState]:
        rows = self.session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.user_id == user_id).order_by(SubscriptionRow.id)
        )
        return [_state(row) for row in rows]

    def get(self, subscription_id: str, *, for_update: bool = False) -> SubscriptionState | None:
        row = self.session.get(SubscriptionRow, subscription_id, with_for_update=for_update)
        if for_update:
            self._read_for_update[subscription_id] = row
        return _state(row) if row else None

    def save(self, state: SubscriptionState) -> None:
        """Stores `state` on the row this unit of work read for update (`get`), or as a new row
        when that read found none: never on a row another transaction stored since, which a fresh
        read here would find, overwriting newer state with a decision made on the older read (a
        race CI met: two events for a new subscription at once, the older one winning). The
        insert fails instead, and the use case runs again, in order."""
        if state.subscription_id in self._read_for_update:
            row = self._read_for_update[state.subscription_id]
        else:
            row = self.session.get(SubscriptionRow, state.subscription_id)
        if row is None:
            row = SubscriptionRow(id=state.subscription_id)
            self.session.add(row)
            self._read_for_update[state.subscription_id] = row  # a second save updates it
        row.user_id = state.user_id
        row.customer_id = state.customer_id
        row.status = state.status
        row.price_id = state.price_id
        row.interval = state.interval.value if state.interval else ""
        row.current_period_end = state.current_period_end
        row.cancel_at_period_end = state.cancel_at_period_end
        row.state_at = state.state_at
        row.amount_minor = state.amount_minor
        row.currency = state.currency
        row.started_at = state.started_at
        row.ended_at = state.ended_at
        row.past_due_since = state.past_due_since
        row.updated_at = datetime.now(UTC)
        _flush_or_abort(self.session, f"subscription {state.subscription_id}")

    def past_due_pro_users(self, since_before: datetime) -> list[str]:
        return list(
            self.session.scalars(
                select(SubscriptionRow.user_id)
                .join(UserRow, UserRow.id == SubscriptionRow.user_id)
                .where(
                    SubscriptionRow.status == PAST_DUE,
                    SubscriptionRow.past_due_since <= since_before,
                    UserRow.plan == PRO,
                )
                .distinct()
            )
        )

    def figures(self, now: datetime, window_start: datetime) -> Figures:
        live = self.session.execute(
            select(
                SubscriptionRow.status,
                SubscriptionRow.interval,
                SubscriptionRow.amount_minor,
                SubscriptionRow.currency,
            ).where(SubscriptionRow.status.in_([*PRO_STATUSES, PAST_DUE]))
        ).all()
        monthly = sum(
            r.amount_minor for r in live if r.status != "trialing" and r.interval == Interval.MONTHLY.value
        )
        yearly = sum(
            r.amount_minor for r in live if r.status != "trialing" and r.interval == Interval.YEARLY.value
        )
        churned = self.session.scalar(
            select(func.count())
            .select_from(SubscriptionRow)
            .where(
                SubscriptionRow.ended_at.is_not(None),
                SubscriptionRow.ended_at > window_start,
                SubscriptionRow.ended_at <= now,
            )
        )
        live_then = self.session.scalar(
            select(func.count())
            .select_from(SubscriptionRow)
            .where(
                SubscriptionRow.started_at.is_not(None),
                SubscriptionRow.started_at <= window_start,
                (SubscriptionRow.ended_at.is_(None)) | (SubscriptionRow.ended_at > window_start),
            )
        )
        currencies = sorted({r.currency for r in live if r.currency})
        return Figures(
            active=sum(1 for r in live if r.status in PRO_STATUSES),
            past_due=sum(1 for r in live if r.status == PAST_DUE),
            mrr_minor=monthly + yearly // 12,
            currency=currencies[0] if len(currencies) == 1 else ",".join(currencies),
            churned=int(churned or 0),
            live_at_window_start=int(live_then or 0),
        )


class SqlLedger:
    def __init__(self, session: Session) -> None:
        self.session = session

    def save_invoice(self, invoice: Invoice) -> None:
        row = self.session.get(InvoiceRow, invoice.id, with_for_update=True)
        if row is not None and row.state_at > invoice.state_at:
            return  # a newer description is stored
        if row is None:
            row = InvoiceRow(id=invoice.id)
            self.session.add(row)
        for field in (
            "user_id",
            "customer_id",
            "subscription_id",
            "status",
            "amount_due",
            "amount_paid",
            "currency",
            "hosted_invoice_url",
            "created",
            "state_at",
        ):
            setattr(row, field, getattr(invoice, field))
        _flush_or_abort(self.session, f"invoice {invoice.id}")

    def save_payment(self, payment: Payment) -> None:
        row = self.session.get(PaymentRow, payment.id, with_for_update=True)
        if row is None:
            row = PaymentRow(id=payment.id, amount_refunded=0)
            self.session.add(row)
        elif row.status == "succeeded" and payment.status == "failed":
            return  # a charge that succeeded stays so
        row.user_id = payment.user_id
        row.customer_id = payment.customer_id
        row.invoice_id = payment.invoice_id or row.invoice_id or ""
        row.status = payment.status
        row.amount = payment.amount
        row.currency = payment.currency
        row.created = payment.created
        _flush_or_abort(self.session, f"payment {payment.id}")

    def save_refund(self, refund: Refund) -> None:
        row = self.session.get(RefundRow, refund.id, with_for_update=True)
        if row is None:
            row = RefundRow(id=refund.id)
            self.session.add(row)
        for field in ("payment_id", "user_id", "amount", "currency", "status", "reason", "created"):
            setattr(row, field, getattr(refund, field))
        _flush_or_abort(self.session, f"refund {refund.id}")
        payment = self.session.get(PaymentRow, refund.payment_id, with_for_update=True)
        if payment is not None:
            payment.amount_refunded = int(
                self.session.scalar(
                    select(func.coalesce(func.sum(RefundRow.amount), 0)).where(
                        RefundRow.payment_id == refund.payment_id,
                        RefundRow.status.in_(["succeeded", "pending"]),
                    )
                )
                or 0
            )
            self.session.flush()

    def payment(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        row = self.session.get(PaymentRow, payment_id, with_for_update=for_update)
        return _payment(row) if row is not None else None

    def invoices_of(self, user_id: str, limit: int) -> list[Invoice]:
        return [
            Invoice(
                id=r.id,
                user_id=r.user_id,
                customer_id=r.customer_id,
                subscription_id=r.subscription_id,
                status=r.status,
                amount_due=r.amount_due,
                amount_paid=r.amount_paid,
                currency=r.currency,
                hosted_invoice_url=r.hosted_invoice_url,
                created=r.created,
                state_at=r.state_at,
            )
            for r in self._newest_of(InvoiceRow, user_id, limit)
        ]

    def payments_of(self, user_id: str, limit: int) -> list[Payment]:
        return [_payment(r) for r in self._newest_of(PaymentRow, user_id, limit)]

    def refunds_of(self, user_id: str, limit: int) -> list[Refund]:
        return [
            Refund(
                id=r.id,
                payment_id=r.payment_id,
                user_id=r.user_id,
                amount=r.amount,
                currency=r.currency,
                status=r.status,
                reason=r.reason,
                created=r.created,
            )
            for r in self._newest_of(RefundRow, user_id, limit)
        ]

    def _newest_of(self, table: type[_LedgerRow], user_id: str, limit: int) -> ScalarResult[_LedgerRow]:
        """The user's `limit` newest rows of `table`, newest first (ties by id)."""
        return self.session.scalars(
            select(table)
            .where(table.user_id == user_id)
            .order_by(table.created.desc(), table.id)
            .limit(limit)
        )


def _payment(row: PaymentRow) -> Payment:
    return Payment(
        id=row.id,
        user_id=row.user_id,
        customer_id=row.customer_id,
        invoice_id=row.invoice_id,
        status=row.status,
        amount=row.amount,
        amount_refunded=row.amount_refunded,
        currency=row.currency,
        created=row.created,
    )


class SqlBillingUnitOfWork:
    """The domain's BillingUnitOfWork over one transaction's Session."""

    def __init__(self, session: Session) -> None:
        self.customers = SqlCustomers(session)
        self.subscriptions = SqlSubscriptions(session)
        self.accounts = SqlAccounts(session)
        self.events = SqlWebhookEvents(session)
        self.ledger = SqlLedger(session)
        self.audit = SqlAuditLog(session)
