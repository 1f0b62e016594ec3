"""The audit log's table (`audit.events`) and the repository behind the `AuditLog` port.

Append-only for real: migration 0002 adds triggers that reject UPDATE and DELETE (PostgreSQL and
SQLite), so not even the service's own role can rewrite history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from business.audit.domain import AuditEntry, AuditEvent, AuditQuery
from business.shared.database import Base, UtcDateTime, escape_like

AUDIT_SCHEMA = "audit"

# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL's audit log may outgrow 32 bits.
AuditId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEventRow(Base):
    """Never holds secrets (the domain refuses them before they get here)."""

    __tablename__ = "events"
    __table_args__ = {"schema": AUDIT_SCHEMA}  # noqa: RUF012 - SQLAlchemy's declarative form

    id: Mapped[int] = mapped_column(AuditId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    subject_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    request_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        action=row.action,
        outcome=row.outcome,
        actor_id=row.actor_id,
        subject_id=row.subject_id,
        ip=row.ip,
        user_agent=row.user_agent,
        request_id=row.request_id,
        before=row.before,
        after=row.after,
        detail=row.detail,
    )


class SqlAuditLog:
    """The `AuditLog` port over one transaction's Session; never commits on its own."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, entry: AuditEntry) -> None:
        self._session.add(
            AuditEventRow(
                at=entry.at,
                action=entry.action,
                outcome=entry.outcome,
                actor_id=entry.actor_id,
                subject_id=entry.subject_id,
                ip=entry.ip,
                user_agent=entry.user_agent,
                request_id=entry.request_id,
                before=entry.before,
                after=entry.after,
                detail=entry.detail,
            )
        )
        # Written now, inside the action's transaction: a failure aborts both together.
        self._session.flush()

    def newest_first(self, query: AuditQuery, *, limit: int, before_id: int | None) -> list[AuditEvent]:
        """Keyset paging on the id (ids grow with time)."""
        statement = select(AuditEventRow)
        if query.actor_id:
            statement = statement.where(AuditEventRow.actor_id == query.actor_id)
        if query.subject_id:
            statement = statement.where(AuditEventRow.subject_id == query.subject_id)
        if query.action.endswith("*"):
            prefix = escape_like(query.action[:-1])
            statement = statement.where(AuditEventRow.action.like(prefix + "%", escape="\\"))
        elif query.action:
            statement = statement.where(AuditEventRow.action == query.action)
        if query.since is not None:
            statement = statement.where(AuditEventRow.at >= query.since)
        if query.until is not None:
            statement = statement.where(AuditEventRow.at < query.until)
        if before_id is not None:
            statement = statement.where(AuditEventRow.id < before_id)
        rows = self._session.scalars(statement.order_by(AuditEventRow.id.desc()).limit(limit))
        return [_event(row) for row in rows]
