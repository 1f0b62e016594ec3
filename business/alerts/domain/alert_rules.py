"""A user's alert rules and the alerts they fired (only their own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from business.alerts.domain import validation
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.entities import Alert, AlertKind, AlertRule, CrossDirection, SignalSide
from business.alerts.domain.ports import AlertsUnitOfWork
from business.audit.domain import Client
from service_runtime.caller import Caller
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

MAX_RULES = 100
MAX_PRICE = 1e12
DEFAULT_HISTORY = 50
MAX_HISTORY = 200


@dataclass(frozen=True)
class RuleRequest:
    """What a user asks for; None where the contract's enum was unset."""

    symbol: str
    timeframe: str
    kind: AlertKind | None
    side: SignalSide | None
    min_confidence: float
    level: float
    direction: CrossDirection | None
    notify_email: bool


def _unused(field: str, value: object) -> None:
    if value:
        raise InvalidArgument.field(field, "must be left unset for this kind")


def checked_parameters(request: RuleRequest) -> RuleRequest:
    """The request with its kind's parameters checked and the other kinds' refused."""
    if request.kind is None:
        raise InvalidArgument.field(
            "kind", "must be ALERT_KIND_SIGNAL, ALERT_KIND_PRICE_CROSS or ALERT_KIND_RANGE_EXIT"
        )
    if request.kind is AlertKind.SIGNAL:
        if request.side is None:
            raise InvalidArgument.field(
                "side", "must be SIGNAL_SIDE_BUY, SIGNAL_SIDE_SELL or SIGNAL_SIDE_ANY"
            )
        validation.finite("min_confidence", request.min_confidence, 0.0, 1.0)
    else:
        _unused("side", request.side)
        _unused("min_confidence", request.min_confidence)
    if request.kind is AlertKind.PRICE_CROSS:
        if request.direction is None:
            raise InvalidArgument.field(
                "direction", "must be CROSS_DIRECTION_UP, CROSS_DIRECTION_DOWN or CROSS_DIRECTION_ANY"
            )
        if not request.level > 0:
            raise InvalidArgument.field("level", "must be a positive price")
        validation.finite("level", request.level, 0.0, MAX_PRICE)
    else:
        _unused("level", request.level)
        _unused("direction", request.direction)
    return request


async def create(ctx: AlertsContext, caller: Caller, request: RuleRequest, client: Client) -> AlertRule:
    checked = checked_parameters(request)
    timeframe = validation.timeframe("timeframe", request.timeframe)
    symbol = await validation.known_symbol(ctx.catalogue, "symbol", request.symbol)
    assert checked.kind is not None
    rule = AlertRule(
        id=str(uuid.uuid4()),
        user_id=caller.subject,
        symbol=symbol,
        timeframe=timeframe,
        kind=checked.kind,
        side=checked.side,
        min_confidence=checked.min_confidence,
        level=checked.level,
        direction=checked.direction,
        notify_email=checked.notify_email,
        created_at=ctx.now(),
    )

    def store(uow: AlertsUnitOfWork) -> AlertRule:
        uow.accounts.take_turn(caller.subject)
        if uow.rules.count_of_user(caller.subject) >= MAX_RULES:
            raise FailedPrecondition(f"at most {MAX_RULES} alert rules per user")
        uow.rules.add(rule)
        ctx.record(
            uow, "alerts.rule_created", client, caller.subject, detail={"id": rule.id, "kind": rule.kind}
        )
        return rule

    stored = await ctx.transactions.run(store)
    ctx.rules_changed.notify()
    return stored


async def list_of(ctx: AlertsContext, caller: Caller) -> list[AlertRule]:
    return await ctx.transactions.run(lambda uow: uow.rules.of_user(caller.subject))


async def delete(ctx: AlertsContext, caller: Caller, rule_id: str, client: Client) -> None:
    def remove(uow: AlertsUnitOfWork) -> None:
        if not uow.rules.delete(caller.subject, rule_id):
            raise NotFound(f"alert rule {rule_id!r} not found")
        ctx.record(uow, "alerts.rule_deleted", client, caller.subject, detail={"id": rule_id})

    await ctx.transactions.run(remove)
    ctx.rules_changed.notify()


async def history(ctx: AlertsContext, caller: Caller, limit: int, before: datetime | None) -> list[Alert]:
    if limit < 0 or limit > MAX_HISTORY:
        raise InvalidArgument.field("limit", f"must be 0 to {MAX_HISTORY}")
    wanted = limit or DEFAULT_HISTORY
    return await ctx.transactions.run(lambda uow: uow.alerts.of_user(caller.subject, wanted, before))
