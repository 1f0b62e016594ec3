"""Users in a test's business store, for features whose rows point at identity's users table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from business.identity.data.tables import UserRow
from business.shared.database import BusinessStore


def plain_users(user_ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """Active users with role "user", each named after its id."""
    return {user_id: (user_id, "user", "active") for user_id in user_ids}


def add_users(
    store: BusinessStore, people: Mapping[str, tuple[str, str, str]], *, email_verified: bool = False
) -> None:
    """Adds `people` (id -> (display name, role, status)) with the email <id>@example.com."""
    now = datetime.now(UTC)
    with store.transaction() as session:
        for user_id, (name, role, status) in people.items():
            session.add(
                UserRow(
                    id=user_id,
                    email=f"{user_id}@example.com",
                    email_verified=email_verified,
                    display_name=name,
                    role=role,
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
            )
