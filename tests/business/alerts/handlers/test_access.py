"""A user never sees or changes another's watchlists, alert rules, alerts or saved backtests: every
RPC of the three services, tried by another user (and without a token)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from business.alerts.domain import evaluation
from business.alerts.wiring import AlertsFeature
from tests.business.alerts.conftest import feed_bar
from tests.support.in_process import TestCallers
from trading.alerts.v1 import alert_service_pb2 as alert_pb
from trading.alerts.v1 import alert_service_pb2_grpc as alert_grpc
from trading.alerts.v1 import saved_backtest_service_pb2 as saved_pb
from trading.alerts.v1 import saved_backtest_service_pb2_grpc as saved_grpc
from trading.alerts.v1 import watchlist_service_pb2 as watch_pb
from trading.alerts.v1 import watchlist_service_pb2_grpc as watch_grpc
from trading.market.v1 import backtest_service_pb2 as backtest_pb

SERVICES = (watch_pb, "WatchlistService"), (alert_pb, "AlertService"), (saved_pb, "SavedBacktestService")
# Every RPC of the three contracts: a new one fails these tests until it is tried here.
RPCS = sorted(
    m.name for module, service in SERVICES for m in module.DESCRIPTOR.services_by_name[service].methods
)
Metadata = tuple[tuple[str, str], ...]


async def alice_owns_one_of_each(
    channel: grpc.aio.Channel, me: Metadata, feature: AlertsFeature
) -> dict[str, str]:
    watchlist = await watch_grpc.WatchlistServiceStub(channel).CreateWatchlist(
        watch_pb.CreateWatchlistRequest(name="mine", symbols=["EURUSD"]), metadata=me
    )
    rule = await alert_grpc.AlertServiceStub(channel).CreateAlertRule(
        alert_pb.CreateAlertRuleRequest(
            symbol="EURUSD",
            kind=alert_pb.ALERT_KIND_PRICE_CROSS,
            level=1.0,
            direction=alert_pb.CROSS_DIRECTION_ANY,
        ),
        metadata=me,
    )
    saved = await saved_grpc.SavedBacktestServiceStub(channel).SaveBacktest(
        saved_pb.SaveBacktestRequest(
            name="mine", config=backtest_pb.RunBacktestRequest(strategy="sma_cross", symbol="EURUSD")
        ),
        metadata=me,
    )
    await evaluation.on_bar(feature.ctx, feed_bar(0, 0.9))
    assert await evaluation.on_bar(feature.ctx, feed_bar(1, 1.1))
    return {
        "watchlist": watchlist.watchlist.watchlist_id,
        "rule": rule.rule.rule_id,
        "saved": saved.saved_backtest.saved_backtest_id,
    }


def calls(channel: grpc.aio.Channel, ids: dict[str, str]) -> dict[str, Callable[[Metadata], Awaitable[Any]]]:
    """One call per RPC, aimed at alice's records."""
    watch = watch_grpc.WatchlistServiceStub(channel)
    alerts = alert_grpc.AlertServiceStub(channel)
    saved = saved_grpc.SavedBacktestServiceStub(channel)
    wid, rid, sid = ids["watchlist"], ids["rule"], ids["saved"]
    return {
        "CreateWatchlist": lambda m: watch.CreateWatchlist(
            watch_pb.CreateWatchlistRequest(name="x", symbols=["GOOG"]), metadata=m
        ),
        "ListWatchlists": lambda m: watch.ListWatchlists(watch_pb.ListWatchlistsRequest(), metadata=m),
        "GetWatchlist": lambda m: watch.GetWatchlist(
            watch_pb.GetWatchlistRequest(watchlist_id=wid), metadata=m
        ),
        "UpdateWatchlist": lambda m: watch.UpdateWatchlist(
            watch_pb.UpdateWatchlistRequest(watchlist_id=wid, name="stolen", symbols=["GOOG"]), metadata=m
        ),
        "DeleteWatchlist": lambda m: watch.DeleteWatchlist(
            watch_pb.DeleteWatchlistRequest(watchlist_id=wid), metadata=m
        ),
        "CreateAlertRule": lambda m: alerts.CreateAlertRule(
            alert_pb.CreateAlertRuleRequest(symbol="GOOG", kind=alert_pb.ALERT_KIND_RANGE_EXIT), metadata=m
        ),
        "ListAlertRules": lambda m: alerts.ListAlertRules(alert_pb.ListAlertRulesRequest(), metadata=m),
        "DeleteAlertRule": lambda m: alerts.DeleteAlertRule(
            alert_pb.DeleteAlertRuleRequest(rule_id=rid), metadata=m
        ),
        "ListAlerts": lambda m: alerts.ListAlerts(alert_pb.ListAlertsRequest(), metadata=m),
        "StreamAlerts": lambda m: first_streamed(alerts, m),
        "SaveBacktest": lambda m: saved.SaveBacktest(
            saved_pb.SaveBacktestRequest(
                name="x", config=backtest_pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG")
            ),
            metadata=m,
        ),
        "ListSavedBacktests": lambda m: saved.ListSavedBacktests(
            saved_pb.ListSavedBacktestsRequest(), metadata=m
        ),
        "DeleteSavedBacktest": lambda m: saved.DeleteSavedBacktest(
            saved_pb.DeleteSavedBacktestRequest(saved_backtest_id=sid), metadata=m
        ),
    }


async def first_streamed(stub: alert_grpc.AlertServiceStub, metadata: Metadata) -> Any:
    """The stream's first message (cancel the task to stop waiting)."""
    stream = stub.StreamAlerts(alert_pb.StreamAlertsRequest(), metadata=metadata)
    try:
        return await stream.read()
    finally:
        stream.cancel()


@pytest.mark.parametrize("rpc", RPCS)
async def test_no_token_is_unauthenticated(channel: grpc.aio.Channel, rpc: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await calls(channel, {"watchlist": "w", "rule": "r", "saved": "s"})[rpc](())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_another_user_sees_and_changes_nothing_of_alices(
    channel: grpc.aio.Channel, callers: TestCallers, feature: AlertsFeature
) -> None:
    alice, bob = callers.metadata(subject="alice"), callers.metadata(subject="bob")
    ids = await alice_owns_one_of_each(channel, alice, feature)
    bobs = calls(channel, ids)
    assert sorted(bobs) == RPCS
    not_found = {
        "GetWatchlist",
        "UpdateWatchlist",
        "DeleteWatchlist",
        "DeleteAlertRule",
        "DeleteSavedBacktest",
    }
    for rpc in sorted(not_found):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bobs[rpc](bob)
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND, rpc
    assert not (await bobs["ListWatchlists"](bob)).watchlists
    assert not (await bobs["ListAlertRules"](bob)).rules
    assert not (await bobs["ListAlerts"](bob)).alerts
    assert not (await bobs["ListSavedBacktests"](bob)).saved_backtests
    # Bob creates his own records: they stay his.
    for rpc in ("CreateWatchlist", "CreateAlertRule", "SaveBacktest"):
        await bobs[rpc](bob)
    # Alice's stream sees her next alert; Bob's, open at the same time, sees nothing of it.
    bob_stream = asyncio.create_task(first_streamed(alert_grpc.AlertServiceStub(channel), bob))
    alice_stream = asyncio.create_task(first_streamed(alert_grpc.AlertServiceStub(channel), alice))
    async with asyncio.timeout(10):
        while feature.hub.streams("alice") == 0 or feature.hub.streams("bob") == 0:
            await asyncio.sleep(0.01)
    assert await evaluation.on_bar(feature.ctx, feed_bar(2, 0.9))
    assert (await asyncio.wait_for(alice_stream, 10)).alert.rule_id == ids["rule"]
    # An alert is put on every open stream of its user at once: had Bob's been given it, it would
    # have come by now.
    bob_got, _ = await asyncio.wait({bob_stream}, timeout=0.5)
    bob_stream.cancel()
    assert not bob_got
    # And everything of Alice's is still there, unchanged.
    watch = await watch_grpc.WatchlistServiceStub(channel).GetWatchlist(
        watch_pb.GetWatchlistRequest(watchlist_id=ids["watchlist"]), metadata=alice
    )
    assert watch.watchlist.name == "mine"
    assert [r.rule_id for r in (await bobs["ListAlertRules"](alice)).rules] == [ids["rule"]]
    assert len((await bobs["ListAlerts"](alice)).alerts) == 2
    assert len((await bobs["ListSavedBacktests"](alice)).saved_backtests) == 1
