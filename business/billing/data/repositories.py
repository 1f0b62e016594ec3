"""The billing domain's ports on SQLAlchemy, inside one transaction's Session."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from business.audit.data import SqlAuditLog
from business.billing.data.tables import CustomerRow, SubscriptionRow
from business.billing.domain.entities import Customer, SubscriptionState
from business.billing.domain.plans import Interval
from business.identity.data.tables import UserRow


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
        self.session.flush()


class SqlBillingUnitOfWork:
    """The domain's BillingUnitOfWork over one transaction's Session."""

    def __init__(self, session: Session) -> None:
        self.customers = SqlCustomers(session)
        self.subscriptions = SqlSubscriptions(session)
        self.audit = SqlAuditLog(session)
