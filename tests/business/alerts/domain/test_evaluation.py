"""Bars evaluated on a real store: once per bar (a replayed bar is skipped), alerts stored with the
feed's state, a restart in the middle of a replay delivering every crossing once, the watcher
reconnecting a broken stream, and emails for the rules that ask for them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from sqlalchemy import update

from business.alerts.domain import alert_rules, evaluation
from business.alerts.domain.alert_rules import RuleRequest
from business.alerts.domain.entities import Alert, AlertKind, AlertRule, CrossDirection, FeedBar, SignalSide
from business.alerts.wiring import AlertsFeature, assemble
from business.audit.domain import Client
from business.identity.data.tables import UserRow
from business.shared.database import BusinessStore
from service_runtime.caller import Caller
from tests.business.alerts.conftest import RecordingMailer, ScriptedFeed, StaticCatalogue, feed_bar
from tests.business.people import add_users

CLIENT = Client("127.0.0.1", "pytest", "req-1")
WAIT_S = 10.0


def caller(subject: str) -> Caller:
    return Caller(subject, frozenset({"user"}), "free")


def cross_up(level: float, notify_email: bool = False, symbol: str = "EURUSD") -> RuleRequest:
    return RuleRequest(symbol, "1h", AlertKind.PRICE_CROSS, None, 0.0, level, CrossDirection.UP, notify_email)


async def add_rule(feature: AlertsFeature, user: str, request: RuleRequest) -> AlertRule:
    return await alert_rules.create(feature.ctx, caller(user), request, CLIENT)


async def history(feature: AlertsFeature, user: str) -> list[Alert]:
    return await alert_rules.history(feature.ctx, caller(user), 200, None)


def stored_feed_time(feature: AlertsFeature) -> int | None:
    """The last bar of EURUSD 1h the evaluation committed (where a restart resumes)."""
    return feature.ctx.transactions.run_sync(lambda uow: uow.feed_states.last_bar_time("EURUSD", "1h"))


async def eventually(check: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT_S)


async def test_a_bar_is_evaluated_once_however_often_it_arrives(feature: AlertsFeature) -> None:
    rule = await add_rule(feature, "alice", cross_up(1.0))
    assert await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9)) == []
    first = await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))
    again = await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))
    older = await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    assert [a.rule_id for a in first] == [rule.id] and again == [] and older == []
    assert [a.bar_time for a in await history(feature, "alice")] == [feed_bar(1, 1.1).bar_time]


async def test_restart_in_the_middle_of_a_replay_delivers_each_crossing_once(
    store: BusinessStore, users: tuple[str, ...], feature: AlertsFeature, feed: ScriptedFeed
) -> None:
    await add_rule(feature, "alice", cross_up(1.0))
    closes = [0.9, 0.95, 1.05, 0.97, 0.96, 0.99, 1.02, 1.03, 1.04]  # crossings up on bars 2 and 6
    live_before = []
    with feature.hub.subscription("alice") as queue:
        feature.start()
        for i in range(5):
            feed.queue("EURUSD").put_nowait(feed_bar(i, closes[i]))
        await eventually(lambda: feed.queue("EURUSD").empty() and queue.qsize() == 1)
        # Taken from the feed is not yet evaluated: wait until the last bar's transaction commits.
        await eventually(lambda: stored_feed_time(feature) == feed_bar(4, 0).bar_time)
        live_before.append(queue.get_nowait())
    await feature.close()

    # A new process on the same store; the ML engine replays from bar 1 (it restarted too).
    replay = ScriptedFeed()
    restarted = assemble(store, StaticCatalogue(), replay, RecordingMailer(), refresh_s=0.05)
    try:
        with restarted.hub.subscription("alice") as queue:
            restarted.start()
            for i in range(1, len(closes)):
                replay.queue("EURUSD").put_nowait(feed_bar(i, closes[i]))
            await eventually(lambda: replay.queue("EURUSD").empty() and queue.qsize() >= 1)
            await asyncio.sleep(0.1)
            live_after = [queue.get_nowait() for _ in range(queue.qsize())]
    finally:
        await restarted.close()

    assert replay.resumed_after == [feed_bar(4, 0).bar_time]
    assert [a.bar_time for a in live_before] == [feed_bar(2, 0).bar_time]
    assert [a.bar_time for a in live_after] == [feed_bar(6, 0).bar_time]
    stored = await history(restarted, "alice")
    assert sorted(a.bar_time for a in stored) == [feed_bar(2, 0).bar_time, feed_bar(6, 0).bar_time]


async def test_the_watcher_opens_a_broken_stream_again_and_goes_on(
    feature: AlertsFeature, feed: ScriptedFeed
) -> None:
    await add_rule(feature, "alice", cross_up(1.0))
    feed.queue("EURUSD").put_nowait(feed_bar(0, 0.9))
    feed.queue("EURUSD").put_nowait(ConnectionError("ML engine restarted"))
    feed.queue("EURUSD").put_nowait(feed_bar(1, 1.1))
    with feature.hub.subscription("alice") as queue:
        feature.start()
        delivered = await asyncio.wait_for(queue.get(), WAIT_S)
    assert delivered.bar_time == feed_bar(1, 0).bar_time and feature.watcher.connections == 2
    assert [a.bar_time for a in await history(feature, "alice")] == [feed_bar(1, 0).bar_time]
    assert feed.opened.count(("EURUSD", "1h")) == 2
    # Opened again after the last evaluated bar, so a restarted engine's replay starts there.
    assert feed.resumed_after == [None, feed_bar(0, 0).bar_time]


async def test_one_subscription_per_feed_whoever_watches_it(
    feature: AlertsFeature, feed: ScriptedFeed
) -> None:
    for user in ("alice", "bob"):
        await add_rule(feature, user, cross_up(1.0))
        await add_rule(feature, user, cross_up(2.0))
    await add_rule(feature, "bob", cross_up(50_000.0, symbol="BTCUSD"))
    feature.start()
    await eventually(lambda: len(feed.opened) == 2)
    await asyncio.sleep(0.2)  # a few refreshes later: still one stream per feed
    assert sorted(feed.opened) == [("BTCUSD", "1h"), ("EURUSD", "1h")]


async def test_alerts_are_emailed_only_for_rules_that_ask_and_only_to_their_owner(
    feature: AlertsFeature, mailer: RecordingMailer
) -> None:
    await add_rule(feature, "alice", cross_up(1.0, notify_email=True))
    await add_rule(feature, "bob", cross_up(1.0))
    signal = RuleRequest("EURUSD", "1h", AlertKind.SIGNAL, SignalSide.BUY, 0.7, 0.0, None, True)
    await add_rule(feature, "bob", signal)
    await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    fired = await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1, action="buy", confidence=0.75))
    assert len(fired) == 3
    assert sorted((e.to, e.subject) for e in mailer.sent) == [
        ("alice@example.com", "Alert: EURUSD crossed above 1 (close 1.1)"),
        ("bob@example.com", "Alert: EURUSD 1h signal turned BUY with confidence 75% (close 1.1)"),
    ]
    assert "http://web.test/alerts" in mailer.sent[0].text


async def test_rules_added_or_deleted_between_bars_count_from_the_next_bar(feature: AlertsFeature) -> None:
    kept = await add_rule(feature, "alice", cross_up(1.0))
    dropped = await add_rule(feature, "alice", cross_up(1.05))
    await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    await alert_rules.delete(feature.ctx, caller("alice"), dropped.id, CLIENT)
    added = await add_rule(feature, "bob", cross_up(1.08))
    fired = await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))
    assert sorted(a.rule_id for a in fired) == sorted([kept.id, added.id])


def on_plan(store: BusinessStore, user_id: str, plan: str) -> None:
    with store.transaction() as session:
        session.execute(update(UserRow).where(UserRow.id == user_id).values(plan=plan))


async def test_a_rule_on_5m_bars_fires_while_its_owner_may_see_5m_bars(
    store: BusinessStore, feature: AlertsFeature
) -> None:
    add_users(store, {"carol": ("carol", "admin", "active")})  # staff: no plan limits them
    for user in ("alice", "bob", "carol"):
        rule = dataclasses.replace(cross_up(1.0), timeframe="5m")
        await alert_rules.create(feature.ctx, Caller(user, frozenset({"user"}), "pro"), rule, CLIENT)
    on_plan(store, "alice", "pro")
    on_plan(store, "bob", "free")  # made on pro, then downgraded

    def bar(i: int, close: float) -> FeedBar:
        return dataclasses.replace(feed_bar(i, close), timeframe="5m")

    await evaluation.on_bar(feature.ctx, bar(0, 0.9))
    fired = await evaluation.on_bar(feature.ctx, bar(1, 1.1))
    assert sorted(a.user_id for a in fired) == ["alice", "carol"]
    on_plan(store, "bob", "pro")  # upgraded again: his rule fires on the next crossing
    await evaluation.on_bar(feature.ctx, bar(2, 0.9))
    fired = await evaluation.on_bar(feature.ctx, bar(3, 1.1))
    assert sorted(a.user_id for a in fired) == ["alice", "bob", "carol"]


def second_replica(store: BusinessStore) -> tuple[AlertsFeature, RecordingMailer]:
    """Another business process on the same store (k8s runs two), with its own streams."""
    mailer = RecordingMailer()
    return assemble(store, StaticCatalogue(), ScriptedFeed(), mailer, "http://web.test"), mailer


def buy_signal() -> RuleRequest:
    """Fires on a feed's very first bar when it says BUY (no previous bar is needed)."""
    return RuleRequest("EURUSD", "1h", AlertKind.SIGNAL, SignalSide.BUY, 0.7, 0.0, None, True)


async def test_a_bar_evaluated_by_one_replica_reaches_the_live_streams_of_the_other(
    store: BusinessStore, feature: AlertsFeature, mailer: RecordingMailer
) -> None:
    other, other_mailer = second_replica(store)
    await add_rule(feature, "alice", cross_up(1.0, notify_email=True))
    await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    await evaluation.on_bar(other.ctx, feed_bar(0, 0.9))
    with other.hub.subscription("alice") as elsewhere, feature.hub.subscription("alice") as here:
        fired = await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))
        # The other replica's stream of the bar arrives after the first replica committed it.
        assert await evaluation.on_bar(other.ctx, feed_bar(1, 1.1)) == []
        assert await evaluation.on_bar(other.ctx, feed_bar(1, 1.1)) == []  # its replay
        live_elsewhere = [elsewhere.get_nowait() for _ in range(elsewhere.qsize())]
        live_here = [here.get_nowait() for _ in range(here.qsize())]
    assert [a.id for a in live_here] == [a.id for a in fired] == [a.id for a in live_elsewhere]
    assert live_elsewhere[0].message == "EURUSD crossed above 1 (close 1.1)"
    assert len(mailer.sent) == 1 and other_mailer.sent == []  # emailed once, by the evaluator


async def test_two_replicas_on_a_feeds_first_bar_store_and_deliver_it_once(
    store: BusinessStore, feature: AlertsFeature, mailer: RecordingMailer
) -> None:
    other, other_mailer = second_replica(store)
    await add_rule(feature, "alice", buy_signal())
    first = feed_bar(0, 1.0, action="buy", confidence=0.8)
    with other.hub.subscription("alice") as elsewhere, feature.hub.subscription("alice") as here:
        # Both take the feed's first bar at once (on PostgreSQL, two concurrent transactions).
        fired_here, fired_elsewhere = await asyncio.gather(
            evaluation.on_bar(feature.ctx, first), evaluation.on_bar(other.ctx, first)
        )
        live = [q.get_nowait() for q in (here, elsewhere) for _ in range(q.qsize())]
    assert len(fired_here + fired_elsewhere) == 1
    assert [a.id for a in live] == [(fired_here + fired_elsewhere)[0].id] * 2
    assert [a.bar_time for a in await history(feature, "alice")] == [first.bar_time]
    assert len(mailer.sent + other_mailer.sent) == 1
    assert stored_feed_time(feature) == first.bar_time


async def test_a_replica_a_bar_behind_still_delivers_what_that_bar_fired(
    store: BusinessStore, feature: AlertsFeature
) -> None:
    other, _ = second_replica(store)
    await add_rule(feature, "alice", cross_up(1.0))
    await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    with other.hub.subscription("alice") as elsewhere:
        fired = await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))
        await evaluation.on_bar(feature.ctx, feed_bar(2, 1.2))  # the first replica is a bar ahead
        for i, close in ((0, 0.9), (1, 1.1), (2, 1.2)):  # the other replica's stream, behind it
            assert await evaluation.on_bar(other.ctx, feed_bar(i, close)) == []
        live = [elsewhere.get_nowait() for _ in range(elsewhere.qsize())]
    assert [a.id for a in live] == [a.id for a in fired]


async def test_a_restarted_replica_does_not_show_old_alerts_as_new(
    store: BusinessStore, users: tuple[str, ...], feature: AlertsFeature
) -> None:
    await add_rule(feature, "alice", cross_up(1.0))
    await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))  # fires; the feed's state is bar 1
    feed = ScriptedFeed()
    restarted = assemble(store, StaticCatalogue(), feed, RecordingMailer(), refresh_s=0.05)
    try:
        with restarted.hub.subscription("alice") as queue:
            restarted.start()
            for i, close in ((0, 0.9), (1, 1.1), (2, 1.05)):  # an engine replaying from its first bar
                feed.queue("EURUSD").put_nowait(feed_bar(i, close))
            await eventually(lambda: stored_feed_time(restarted) == feed_bar(2, 0).bar_time)
            await asyncio.sleep(0.1)
            assert queue.empty()  # bar 1's alert was delivered before the restart
    finally:
        await restarted.close()
