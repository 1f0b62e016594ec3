"""Identity's repositories: entities read and written back, only changed columns updated, unique
values refused as UniqueConflict, and a save of a user this unit of work never read refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from business.identity.data.repositories import SqlIdentityUnitOfWork
from business.identity.domain.entities import OAuthIdentity, User
from business.identity.domain.ports import UniqueConflict
from business.shared.database import BusinessStore, UnitsOfWork

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def units(store: BusinessStore) -> UnitsOfWork[SqlIdentityUnitOfWork]:
    return store.units_of_work(SqlIdentityUnitOfWork)


def new_user(email: str = "", phone: str | None = None) -> User:
    return User(
        id=str(uuid.uuid4()),
        email=email or f"u-{uuid.uuid4().hex[:8]}@example.com",
        phone_number=phone,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
def updates(store: BusinessStore) -> Iterator[list[str]]:
    """The UPDATE statements sent to the database while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine, "before_cursor_execute", record)


def test_a_user_round_trips_and_a_save_writes_only_what_changed(
    units: UnitsOfWork[SqlIdentityUnitOfWork], updates: list[str]
) -> None:
    user = new_user()
    units.run_sync(lambda uow: uow.users.add(user))
    assert units.run_sync(lambda uow: uow.users.by_email(user.email)) == user

    def rename(uow: SqlIdentityUnitOfWork) -> None:
        found = uow.users.get(user.id, for_update=True)
        assert found is not None
        found.display_name = "Renamed"
        uow.users.save(found)

    units.run_sync(rename)
    [statement] = updates
    assert "display_name" in statement and "status" not in statement and "email" not in statement
    stored = units.run_sync(lambda uow: uow.users.get(user.id))
    assert stored is not None and stored.display_name == "Renamed" and stored.created_at == NOW


def test_unique_values_are_a_conflict(units: UnitsOfWork[SqlIdentityUnitOfWork]) -> None:
    first = new_user(phone="+14155550100")
    units.run_sync(lambda uow: uow.users.add(first))
    with pytest.raises(UniqueConflict):
        units.run_sync(lambda uow: uow.users.add(new_user(email=first.email)))
    second = new_user()
    units.run_sync(lambda uow: uow.users.add(second))

    def take_the_number(uow: SqlIdentityUnitOfWork) -> None:
        found = uow.users.get(second.id)
        assert found is not None
        found.phone_number = first.phone_number
        uow.users.save(found)

    with pytest.raises(UniqueConflict):
        units.run_sync(take_the_number)


def test_a_save_needs_the_row_read_in_the_same_unit_of_work(
    units: UnitsOfWork[SqlIdentityUnitOfWork],
) -> None:
    user = new_user()
    units.run_sync(lambda uow: uow.users.add(user))
    user.display_name = "stale copy"
    with pytest.raises(LookupError):
        units.run_sync(lambda uow: uow.users.save(user))


def test_providers_are_listed_for_every_user_asked(units: UnitsOfWork[SqlIdentityUnitOfWork]) -> None:
    linked, alone = new_user(), new_user()

    def link(uow: SqlIdentityUnitOfWork) -> None:
        uow.users.add(linked)
        uow.users.add(alone)
        for provider in ("github", "google"):
            uow.oauth_identities.add(
                OAuthIdentity(provider=provider, subject=f"{provider}-1", user_id=linked.id, created_at=NOW)
            )

    units.run_sync(link)
    found = units.run_sync(lambda uow: uow.oauth_identities.providers_of_each([linked.id, alone.id]))
    assert found == {linked.id: ["github", "google"], alone.id: []}
    assert units.run_sync(lambda uow: uow.oauth_identities.get("google", "google-1")) is not None
