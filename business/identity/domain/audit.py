"""Audit entries: written inside the transaction of the change they describe.

A failed attempt that changes nothing else gets its own small transaction (`record_alone`).
Secrets never reach the log: keys that look like one are refused outright.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from business.identity.data import repositories as repo
from business.identity.data.tables import AuditEvent, User
from business.identity.domain.context import Client, Identity

SUCCEEDED = "succeeded"
FAILED = "failed"

_SECRET_WORDS = ("password", "token", "secret", "code", "hash")
# Fields of a user worth a before/after; secrets are not among them.
PROFILE_FIELDS = (
    "email",
    "email_verified",
    "display_name",
    "phone_number",
    "phone_verified",
    "role",
    "status",
    "plan",
    "totp_enabled",
    "suspended_reason",
)


def _check_no_secrets(values: dict[str, Any] | None) -> None:
    for key in values or {}:
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) and lowered not in _ALLOWED_KEYS:
            raise ValueError(f"audit field {key!r} looks like a secret; the audit log never stores secrets")


# Keys that mention a secret word but hold none (booleans and names).
_ALLOWED_KEYS = frozenset({"has_password", "password_cleared", "backup_codes_left", "factor"})


def snapshot(user: User, fields: tuple[str, ...] = PROFILE_FIELDS) -> dict[str, Any]:
    return {name: getattr(user, name) for name in fields}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, for the before/after columns."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    s: Session,
    identity: Identity,
    action: str,
    client: Client,
    *,
    outcome: str = SUCCEEDED,
    actor_id: str = "",
    subject_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    for values in (before, after, detail):
        _check_no_secrets(values)
    repo.add_audit_event(
        s,
        AuditEvent(
            at=identity.now(),
            action=action,
            outcome=outcome,
            actor_id=actor_id,
            subject_id=subject_id,
            ip=client.ip[:64],
            user_agent=client.user_agent[:300],
            request_id=client.request_id[:64],
            before=repo.json_safe(before),
            after=repo.json_safe(after),
            detail=repo.json_safe(detail),
        ),
    )


async def record_alone(identity: Identity, action: str, client: Client, **fields: Any) -> None:
    """A failed attempt: nothing else to write, so the entry is its own transaction."""
    await identity.db.run(lambda s: record(s, identity, action, client, outcome=FAILED, **fields))
