"""One bar of a feed, evaluated once for every rule that watches it, then delivered.

Steps: lock the feed's state; skip a bar at or before the last evaluated one (a reconnect or a
restart replays bars already seen); evaluate every rule of the feed; store the alerts AND the new
state in that one transaction (a crash before the commit evaluates the bar again, after it never);
then deliver each alert live and, where the rule asks for it, by email.

Every business replica follows every feed, and each holds its own users' live streams. The replica
whose transaction takes the bar first evaluates it, stores, emails and delivers live; each other
replica, finding the bar already evaluated, reads what it fired and delivers that live to its own
streams (never by email). A process delivers each bar live once (`AlertsContext.delivered_live`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from business.alerts.domain import rules
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.entities import Alert, AlertRule, FeedBar
from business.alerts.domain.ports import AlertsUnitOfWork
from business.shared.emails import OutgoingEmail
from service_runtime.errors import DependencyUnavailable

log = logging.getLogger(__name__)

NEVER = -(2**63)  # before any bar


def feed_rules(ctx: AlertsContext, uow: AlertsUnitOfWork, symbol: str, timeframe: str) -> list[AlertRule]:
    """The feed's rules: from the cache while the feed's version is unchanged (one cheap query per
    bar instead of reading tens of thousands of rules), read again when a rule came or went."""
    version = uow.rules.feed_version(symbol, timeframe)
    cached = ctx.rule_cache.get((symbol, timeframe))
    if cached is not None and cached[0] == version:
        return cached[1]
    fresh = uow.rules.for_feed(symbol, timeframe)
    ctx.rule_cache[(symbol, timeframe)] = (version, fresh)
    return fresh


def entitled_rules(
    ctx: AlertsContext, uow: AlertsUnitOfWork, feed: list[AlertRule], timeframe: str
) -> list[AlertRule]:
    """The rules whose owner's plan still opens the timeframe. A rule made on pro stays listed
    after a downgrade but fires no more (again after an upgrade): its alerts would carry what the
    plan no longer opens. The feed's state moves on either way."""
    plans = ctx.timeframe_plans.get(timeframe)
    if not plans or not feed:
        return feed
    allowed = uow.accounts.entitled({rule.user_id for rule in feed}, plans)
    return [rule for rule in feed if rule.user_id in allowed]


@dataclass(frozen=True)
class BarOutcome:
    """What one process does with a bar: the alerts it fired (stored, emailed to `emails`), or
    those another replica fired on that bar, for this process's live streams only."""

    fired: list[Alert] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)
    fired_elsewhere: list[Alert] = field(default_factory=list)


def evaluate_and_store(ctx: AlertsContext, uow: AlertsUnitOfWork, bar: FeedBar) -> BarOutcome:
    previous = uow.feed_states.lock(bar.symbol, bar.timeframe)
    if previous is not None and bar.bar_time <= previous.bar_time:
        # Evaluated already: by another replica (this one's stream may be a bar or more behind),
        # or before this process started (its watcher resumes after that bar: never delivered here).
        return BarOutcome(fired_elsewhere=uow.alerts.at_bar(bar.symbol, bar.timeframe, bar.bar_time))
    watching = entitled_rules(ctx, uow, feed_rules(ctx, uow, bar.symbol, bar.timeframe), bar.timeframe)
    state, fired = rules.evaluate(watching, previous, bar, ctx.now())
    uow.alerts.add_all(fired)
    uow.feed_states.save(state)
    emails = uow.accounts.emails_of({a.user_id for a in fired if a.notify_email})
    return BarOutcome(fired, emails)


def alert_email(ctx: AlertsContext, to: str, alert: Alert) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"Alert: {alert.message}",
        text=(
            f"Hello,\n\nOne of your alert rules fired:\n\n{alert.message}\n\n"
            f"Your alerts: {ctx.web_url}/alerts\n\n"
            "You receive this email because the rule asks for it; delete the rule or turn its "
            "email off to stop.\n"
        ),
    )


def publish_live(ctx: AlertsContext, alerts: list[Alert]) -> None:
    """To every open stream of each alert's user in this process."""
    for alert in alerts:
        ctx.live.publish(alert)


async def send_emails(ctx: AlertsContext, fired: list[Alert], emails: dict[str, str]) -> int:
    """The emails of the rules that ask for them; the number sent."""
    sent = 0
    for alert in fired:
        address = emails.get(alert.user_id)
        if not alert.notify_email or not address:
            continue
        try:
            await ctx.mailer.send(alert_email(ctx, address, alert))
            sent += 1
        except DependencyUnavailable:
            log.warning("alert %s: the email to the user %s was not sent", alert.id, alert.user_id)
    return sent


def delivered_here(ctx: AlertsContext, bar: FeedBar) -> bool:
    return bar.bar_time <= ctx.delivered_live.get((bar.symbol, bar.timeframe), NEVER)


def delivered_up_to(ctx: AlertsContext, symbol: str, timeframe: str, bar_time: int | None) -> None:
    """Bars up to `bar_time` are not delivered live by this process (again): those it delivered, and
    those evaluated before its stream resumed after them (a replay would show old alerts as new)."""
    if bar_time is not None:
        feed = (symbol, timeframe)
        ctx.delivered_live[feed] = max(bar_time, ctx.delivered_live.get(feed, NEVER))


async def on_bar(ctx: AlertsContext, bar: FeedBar) -> list[Alert]:
    """Evaluates `bar` once (whoever else sees it), stores and delivers what fired; the alerts
    this process fired (none when another replica evaluated the bar first)."""
    if delivered_here(ctx, bar):
        return []
    outcome = await ctx.transactions.run(lambda uow: evaluate_and_store(ctx, uow, bar))
    delivered_up_to(ctx, bar.symbol, bar.timeframe, bar.bar_time)
    publish_live(ctx, outcome.fired + outcome.fired_elsewhere)
    if outcome.fired:
        await send_emails(ctx, outcome.fired, outcome.emails)
    return outcome.fired
