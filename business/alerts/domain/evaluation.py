"""One bar of a feed, evaluated once for every rule that watches it, then delivered.

Steps: lock the feed's state; skip a bar at or before the last evaluated one (a reconnect or a
restart replays bars already seen); evaluate every rule of the feed; store the alerts AND the new
state in that one transaction (a crash before the commit evaluates the bar again, after it never);
then deliver each alert live and, where the rule asks for it, by email.
"""

from __future__ import annotations

import logging

from business.alerts.domain import rules
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.entities import Alert, AlertRule, FeedBar
from business.alerts.domain.ports import AlertsUnitOfWork
from business.shared.emails import OutgoingEmail
from service_runtime.errors import DependencyUnavailable

log = logging.getLogger(__name__)


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


def evaluate_and_store(
    ctx: AlertsContext, uow: AlertsUnitOfWork, bar: FeedBar
) -> tuple[list[Alert], dict[str, str]]:
    previous = uow.feed_states.lock(bar.symbol, bar.timeframe)
    if previous is not None and bar.bar_time <= previous.bar_time:
        return [], {}
    watching = entitled_rules(ctx, uow, feed_rules(ctx, uow, bar.symbol, bar.timeframe), bar.timeframe)
    state, fired = rules.evaluate(watching, previous, bar, ctx.now())
    uow.alerts.add_all(fired)
    uow.feed_states.save(state)
    emails = uow.accounts.emails_of({a.user_id for a in fired if a.notify_email})
    return fired, emails


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


async def deliver(ctx: AlertsContext, fired: list[Alert], emails: dict[str, str]) -> int:
    """Live to every open stream of the user, then the emails; the number of emails sent."""
    for alert in fired:
        ctx.live.publish(alert)
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


async def on_bar(ctx: AlertsContext, bar: FeedBar) -> list[Alert]:
    """Evaluates `bar` once (whoever else sees it), stores and delivers what fired."""
    fired, emails = await ctx.transactions.run(lambda uow: evaluate_and_store(ctx, uow, bar))
    if fired:
        await deliver(ctx, fired, emails)
    return fired
