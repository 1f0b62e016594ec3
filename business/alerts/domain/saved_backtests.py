"""A user's saved backtests: a configuration as it was run and its metrics (only their own)."""

from __future__ import annotations

import uuid
from typing import Any

from business.alerts.domain import validation
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.entities import SavedBacktest
from business.alerts.domain.ports import AlertsUnitOfWork
from service_runtime.caller import Caller
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

MAX_SAVED = 200


async def save(
    ctx: AlertsContext, caller: Caller, name: str, config: dict[str, Any], summary: dict[str, Any]
) -> SavedBacktest:
    checked_name = validation.name("name", name)
    if not str(config.get("strategy", "")).strip():
        raise InvalidArgument.field("config.strategy", "is required")
    symbol = await validation.known_symbol(ctx.catalogue, "config.symbol", str(config.get("symbol", "")))
    saved = SavedBacktest(
        str(uuid.uuid4()),
        caller.subject,
        checked_name,
        {**config, "symbol": symbol},
        summary,
        symbol,
        ctx.now(),
    )

    def store(uow: AlertsUnitOfWork) -> SavedBacktest:
        uow.accounts.take_turn(caller.subject)
        if len(uow.saved_backtests.of_user(caller.subject)) >= MAX_SAVED:
            raise FailedPrecondition(f"at most {MAX_SAVED} saved backtests per user")
        uow.saved_backtests.add(saved)
        return saved

    return await ctx.transactions.run(store)


async def list_of(ctx: AlertsContext, caller: Caller) -> list[SavedBacktest]:
    return await ctx.transactions.run(lambda uow: uow.saved_backtests.of_user(caller.subject))


async def delete(ctx: AlertsContext, caller: Caller, saved_id: str) -> None:
    def remove(uow: AlertsUnitOfWork) -> None:
        if not uow.saved_backtests.delete(caller.subject, saved_id):
            raise NotFound(f"saved backtest {saved_id!r} not found")

    await ctx.transactions.run(remove)
