"""The append-only audit log: who did what to whom, from where, with the before and after.

Every business feature writes its entries through the `AuditLog` port of its unit of work, inside
the transaction of the change they describe, so both are written or neither. Secrets never reach
the log: keys that look like one are refused outright. Values are stored as JSON (datetimes as
ISO strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

SUCCEEDED = "succeeded"
FAILED = "failed"

_SECRET_WORDS = ("password", "token", "secret", "code", "hash")
# Keys that mention a secret word but hold none (booleans and names).
_ALLOWED_KEYS = frozenset({"has_password", "password_cleared", "backup_codes_left", "factor"})

Values = dict[str, Any]


@dataclass(frozen=True)
class Client:
    """Who is on the other end of a request, for the audit log (and sessions, throttling)."""

    ip: str = ""
    user_agent: str = ""
    request_id: str = ""


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One line of the log, as written."""

    at: datetime
    action: str
    outcome: str
    actor_id: str = ""
    subject_id: str = ""
    ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    before: Values | None = None
    after: Values | None = None
    detail: Values | None = None


@dataclass(frozen=True, kw_only=True)
class AuditEvent(AuditEntry):
    """A line of the log as read back: ids grow with time."""

    id: int


@dataclass(frozen=True)
class AuditQuery:
    """Empty fields match everything; `action` ending in `*` matches a prefix."""

    actor_id: str = ""
    subject_id: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


class AuditLog(Protocol):
    """The port every feature's unit of work exposes as `audit`."""

    def append(self, entry: AuditEntry) -> None:
        """Written at once, inside the unit of work's transaction."""
        ...

    def newest_first(self, query: AuditQuery, *, limit: int, before_id: int | None) -> list[AuditEvent]:
        """Matching events, newest first, older than `before_id` when given."""
        ...


def _check_no_secrets(values: Values | None) -> None:
    for key in values or {}:
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) and lowered not in _ALLOWED_KEYS:
            raise ValueError(f"audit field {key!r} looks like a secret; the audit log never stores secrets")


def json_safe(values: Values | None) -> Values | None:
    """Before/after/detail as JSON: datetimes become ISO strings."""
    if values is None:
        return None
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def snapshot(entity: object, fields: tuple[str, ...]) -> Values:
    """The named fields of an entity, for a before or an after."""
    return {name: getattr(entity, name) for name in fields}


def changes(before: Values, after: Values) -> tuple[Values, Values]:
    """Only the fields that changed, for the before/after columns."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    log: AuditLog,
    at: datetime,
    action: str,
    client: Client,
    *,
    outcome: str = SUCCEEDED,
    actor_id: str = "",
    subject_id: str = "",
    before: Values | None = None,
    after: Values | None = None,
    detail: Values | None = None,
) -> None:
    """Appends one entry to `log` (the unit of work's): refused if a field looks like a secret."""
    for values in (before, after, detail):
        _check_no_secrets(values)
    log.append(
        AuditEntry(
            at=at,
            action=action,
            outcome=outcome,
            actor_id=actor_id,
            subject_id=subject_id,
            ip=client.ip[:64],
            user_agent=client.user_agent[:300],
            request_id=client.request_id[:64],
            before=json_safe(before),
            after=json_safe(after),
            detail=json_safe(detail),
        )
    )
