"""The audit log: entries as written (no secrets, JSON values, bounded client fields), queries by
actor, subject, action prefix and time, and a table that refuses UPDATE and DELETE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from business.audit import domain as audit
from business.audit.data import SqlAuditLog
from business.audit.domain import AuditEntry, AuditQuery, Client
from business.shared.database import BusinessStore

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CLIENT = Client(ip="203.0.113.7", user_agent="pytest", request_id="req-1")


class ListLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


def test_an_entry_refuses_secrets_and_keeps_json() -> None:
    log = ListLog()
    for secret in ({"refresh_token": "abc"}, {"password": "x"}, {"totp_secret": "y"}, {"new_code": "1"}):
        with pytest.raises(ValueError, match="secret"):
            audit.record(log, AT, "x", CLIENT, detail=secret)  # type: ignore[arg-type]
    long = Client(ip="1" * 100, user_agent="a" * 400, request_id="r" * 100)
    audit.record(
        log,  # type: ignore[arg-type]
        AT,
        "user.updated",
        long,
        before={"has_password": True, "at": AT},
        detail={"backup_codes_left": 3, "factor": "totp"},
    )
    [entry] = log.entries
    assert entry.before == {"has_password": True, "at": AT.isoformat()} and entry.after is None
    assert (len(entry.ip), len(entry.user_agent), len(entry.request_id)) == (64, 300, 64)
    assert entry.outcome == audit.SUCCEEDED


def test_changes_keep_only_what_changed() -> None:
    assert audit.changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == (
        {"b": 2, "c": None},
        {"b": 3, "c": 4},
    )


def _record(log: SqlAuditLog, action: str, at: datetime, subject_id: str = "s-1") -> None:
    audit.record(log, at, action, CLIENT, actor_id="a-1", subject_id=subject_id, detail={"n": 1})


def test_events_are_read_back_newest_first_and_filtered(store: BusinessStore) -> None:
    logs = store.units_of_work(SqlAuditLog)
    logs.run_sync(lambda log: _record(log, "auth.login", AT))
    logs.run_sync(lambda log: _record(log, "auth_x.login", AT + timedelta(seconds=1)))
    logs.run_sync(lambda log: _record(log, "admin.user.role_changed", AT + timedelta(seconds=2), "s-2"))

    def actions(query: AuditQuery, before_id: int | None = None) -> list[str]:
        events = logs.run_sync(lambda log: log.newest_first(query, limit=10, before_id=before_id))
        return [e.action for e in events]

    assert actions(AuditQuery()) == ["admin.user.role_changed", "auth_x.login", "auth.login"]
    # `_` in a prefix is a literal underscore, not LIKE's any-character.
    assert actions(AuditQuery(action="auth_*")) == ["auth_x.login"]
    assert actions(AuditQuery(action="auth.*")) == ["auth.login"]
    assert actions(AuditQuery(subject_id="s-2")) == ["admin.user.role_changed"]
    assert actions(AuditQuery(since=AT + timedelta(seconds=1), until=AT + timedelta(seconds=2))) == [
        "auth_x.login"
    ]
    newest = logs.run_sync(lambda log: log.newest_first(AuditQuery(), limit=1, before_id=None))
    assert actions(AuditQuery(), before_id=newest[0].id) == ["auth_x.login", "auth.login"]
    assert newest[0].at == AT + timedelta(seconds=2) and newest[0].detail == {"n": 1}
    assert (newest[0].ip, newest[0].user_agent, newest[0].request_id) == (CLIENT.ip, "pytest", "req-1")


def test_the_log_is_append_only(store: BusinessStore) -> None:
    store.units_of_work(SqlAuditLog).run_sync(lambda log: _record(log, "auth.login", AT))
    table = "audit.events" if store.dialect == "postgresql" else "events"
    with pytest.raises(Exception, match="append-only"), store.transaction() as session:
        session.execute(text(f"UPDATE {table} SET action = 'x'"))
    with pytest.raises(Exception, match="append-only"), store.transaction() as session:
        session.execute(text(f"DELETE FROM {table}"))
