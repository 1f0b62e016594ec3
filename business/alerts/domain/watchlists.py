"""A user's watchlists: create, list, read, replace, delete (only their own)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from business.alerts.domain import validation
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.entities import Watchlist
from business.alerts.domain.ports import AlertsUnitOfWork
from business.audit.domain import Client
from service_runtime.caller import Caller
from service_runtime.errors import FailedPrecondition, NotFound

MAX_WATCHLISTS = 20


def _not_found(watchlist_id: str) -> NotFound:
    return NotFound(f"watchlist {watchlist_id!r} not found")


async def create(
    ctx: AlertsContext, caller: Caller, name: str, symbols: list[str], client: Client
) -> Watchlist:
    checked_name = validation.name("name", name)
    checked_symbols = await validation.known_symbols(ctx.catalogue, "symbols", symbols)
    now = ctx.now()
    watchlist = Watchlist(str(uuid.uuid4()), caller.subject, checked_name, checked_symbols, now, now)

    def store(uow: AlertsUnitOfWork) -> Watchlist:
        uow.accounts.take_turn(caller.subject)
        if uow.watchlists.count_of_user(caller.subject) >= MAX_WATCHLISTS:
            raise FailedPrecondition(f"at most {MAX_WATCHLISTS} watchlists per user")
        uow.watchlists.add(watchlist)
        ctx.record(uow, "alerts.watchlist_created", client, caller.subject, detail={"id": watchlist.id})
        return watchlist

    return await ctx.transactions.run(store)


async def list_of(ctx: AlertsContext, caller: Caller) -> list[Watchlist]:
    return await ctx.transactions.run(lambda uow: uow.watchlists.of_user(caller.subject))


async def get(ctx: AlertsContext, caller: Caller, watchlist_id: str) -> Watchlist:
    found = await ctx.transactions.run(lambda uow: uow.watchlists.get(caller.subject, watchlist_id))
    if found is None:
        raise _not_found(watchlist_id)
    return found


async def update(
    ctx: AlertsContext, caller: Caller, watchlist_id: str, name: str, symbols: list[str]
) -> Watchlist:
    checked_name = validation.name("name", name)
    checked_symbols = await validation.known_symbols(ctx.catalogue, "symbols", symbols)

    def store(uow: AlertsUnitOfWork) -> Watchlist:
        found = uow.watchlists.get(caller.subject, watchlist_id)
        if found is None:
            raise _not_found(watchlist_id)
        changed = replace(found, name=checked_name, symbols=checked_symbols, updated_at=ctx.now())
        uow.watchlists.replace(changed)
        return changed

    return await ctx.transactions.run(store)


async def delete(ctx: AlertsContext, caller: Caller, watchlist_id: str, client: Client) -> None:
    def remove(uow: AlertsUnitOfWork) -> None:
        if not uow.watchlists.delete(caller.subject, watchlist_id):
            raise _not_found(watchlist_id)
        ctx.record(uow, "alerts.watchlist_deleted", client, caller.subject, detail={"id": watchlist_id})

    await ctx.transactions.run(remove)
