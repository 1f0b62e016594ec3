"""The billing domain's ports on SQLAlchemy, inside one transaction's Session."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from business.audit.data import SqlAuditLog
from business.billing.data.tables import CustomerRow, SubscriptionRow, WebhookEventRow
from business.billing.domain.entities import Customer, SubscriptionState
from business.billing.domain.plans import Interval
from business.billing.domain.ports import NEW, PENDING, PROCESSED
from business.billing.domain.stripe_objects import StripeEvent
from business.identity.data.tables import UserRow
from service_runtime.errors import Aborted


class SqlCustomers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_user(self, user_id: str) -> Customer | None:
        row = self.session.get(CustomerRow, user_id) if len(user_id) <= 36 else None
        return Customer(row.user_id, row.stripe_customer_id) if row else None

    def add(self, customer: Customer) -> Customer:
        existing = self.session.get(CustomerRow, customer.user_id, with_for_update=True)
        if existing is not None:
            return Customer(existing.user_id, existing.stripe_customer_id)
        self.session.add(
            CustomerRow(
                user_id=customer.user_id,
                stripe_customer_id=customer.stripe_customer_id,
                created_at=datetime.now(UTC),
            )
        )
        self.session.flush()
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


class SqlWebhookEvents:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: StripeEvent, received_at: datetime) -> str:
        row = self.session.get(WebhookEventRow, event.id)
        if row is not None:
            return PROCESSED if row.processed_at is not None else PENDING
        try:
            with self.session.begin_nested():
                self.session.add(
                    WebhookEventRow(
                        id=event.id,
                        type=event.type[:100],
                        created=event.created,
                        received_at=received_at,
                        attempts=0,
                        last_error="",
                        payload=event.payload,
                    )
                )
        except IntegrityError:  # the same event delivered twice at once: the other one stored it
            return PENDING
        return NEW

    def processed(self, event_id: str, at: datetime) -> None:
        row = self.session.get(WebhookEventRow, event_id, with_for_update=True)
        if row is not None:
            row.attempts += 1
            row.processed_at = at
            row.last_error = ""
            self.session.flush()

    def failed(self, event_id: str, error: str) -> None:
        row = self.session.get(WebhookEventRow, event_id, with_for_update=True)
        if row is not None:
            row.attempts += 1
            row.last_error = error
            self.session.flush()


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
    )


class SqlSubscriptions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current_of(self, user_id: str) -> SubscriptionState | None:
        row = self.session.scalars(
            select(SubscriptionRow)
            .where(SubscriptionRow.user_id == user_id)
            .order_by(SubscriptionRow.state_at.desc(), SubscriptionRow.id)
            .limit(1)
        ).first()
        return _state(row) if row else None

    def get(self, subscription_id: str, *, for_update: bool = False) -> SubscriptionState | None:
        row = self.session.get(SubscriptionRow, subscription_id, with_for_update=for_update)
        return _state(row) if row else None

    def save(self, state: SubscriptionState) -> None:
        row = self.session.get(SubscriptionRow, state.subscription_id)
        if row is None:
            row = SubscriptionRow(id=state.subscription_id)
            self.session.add(row)
        row.user_id = state.user_id
        row.customer_id = state.customer_id
        row.status = state.status
        row.price_id = state.price_id
        row.interval = state.interval.value if state.interval else ""
        row.current_period_end = state.current_period_end
        row.cancel_at_period_end = state.cancel_at_period_end
        row.state_at = state.state_at
        row.updated_at = datetime.now(UTC)
        try:
            self.session.flush()
        except IntegrityError:  # the whole transaction rolls back; the use case runs it again
            raise Aborted(
                f"subscription {state.subscription_id} was stored concurrently", reason="CONCURRENT_UPDATE"
            ) from None


class SqlBillingUnitOfWork:
    """The domain's BillingUnitOfWork over one transaction's Session."""

    def __init__(self, session: Session) -> None:
        self.customers = SqlCustomers(session)
        self.subscriptions = SqlSubscriptions(session)
        self.accounts = SqlAccounts(session)
        self.events = SqlWebhookEvents(session)
        self.audit = SqlAuditLog(session)
