"""WatchlistService, AlertService and SavedBacktestService through a real server: the round trips,
bad input (INVALID_ARGUMENT naming the field), the ML engine down (UNAVAILABLE), and the live
alert stream."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from business.alerts.domain import evaluation
from business.alerts.domain.watchlists import MAX_WATCHLISTS
from business.alerts.wiring import AlertsFeature
from tests.business.alerts.conftest import StaticCatalogue, feed_bar
from tests.support.in_process import TestCallers, violated_fields
from trading.alerts.v1 import alert_service_pb2 as alert_pb
from trading.alerts.v1 import alert_service_pb2_grpc as alert_grpc
from trading.alerts.v1 import saved_backtest_service_pb2 as saved_pb
from trading.alerts.v1 import saved_backtest_service_pb2_grpc as saved_grpc
from trading.alerts.v1 import watchlist_service_pb2 as watch_pb
from trading.alerts.v1 import watchlist_service_pb2_grpc as watch_grpc
from trading.market.v1 import backtest_service_pb2 as backtest_pb

CROSS_UP = alert_pb.CreateAlertRuleRequest(
    symbol="eurusd", kind=alert_pb.ALERT_KIND_PRICE_CROSS, level=1.0, direction=alert_pb.CROSS_DIRECTION_UP
)


async def test_watchlist_round_trip(channel: grpc.aio.Channel, callers: TestCallers) -> None:
    stub, me = watch_grpc.WatchlistServiceStub(channel), callers.metadata(subject="alice")
    created = await stub.CreateWatchlist(
        watch_pb.CreateWatchlistRequest(name=" FX ", symbols=["eurusd", "GOOG", "EURUSD"]), metadata=me
    )
    watchlist = created.watchlist
    assert (watchlist.name, list(watchlist.symbols)) == ("FX", ["EURUSD", "GOOG"])
    updated = await stub.UpdateWatchlist(
        watch_pb.UpdateWatchlistRequest(
            watchlist_id=watchlist.watchlist_id, name="Crypto", symbols=["BTCUSD"]
        ),
        metadata=me,
    )
    assert list(updated.watchlist.symbols) == ["BTCUSD"]
    got = await stub.GetWatchlist(
        watch_pb.GetWatchlistRequest(watchlist_id=watchlist.watchlist_id), metadata=me
    )
    assert got.watchlist.name == "Crypto"
    listed = await stub.ListWatchlists(watch_pb.ListWatchlistsRequest(), metadata=me)
    assert [w.watchlist_id for w in listed.watchlists] == [watchlist.watchlist_id]
    await stub.DeleteWatchlist(
        watch_pb.DeleteWatchlistRequest(watchlist_id=watchlist.watchlist_id), metadata=me
    )
    assert not (await stub.ListWatchlists(watch_pb.ListWatchlistsRequest(), metadata=me)).watchlists


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (watch_pb.CreateWatchlistRequest(name="x", symbols=["EURUSD", "NOPE"]), "symbols[1]"),
        (watch_pb.CreateWatchlistRequest(name="", symbols=["EURUSD"]), "name"),
        (watch_pb.CreateWatchlistRequest(name="x", symbols=[""]), "symbols[0]"),
        (watch_pb.CreateWatchlistRequest(name="x", symbols=["EURUSD"] * 51), "symbols"),
    ],
)
async def test_bad_watchlists_are_refused_naming_the_field(
    channel: grpc.aio.Channel, callers: TestCallers, request_: watch_pb.CreateWatchlistRequest, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await watch_grpc.WatchlistServiceStub(channel).CreateWatchlist(request_, metadata=callers.metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]


async def test_creates_at_once_stop_at_the_per_user_cap(
    channel: grpc.aio.Channel, callers: TestCallers
) -> None:
    stub, me = watch_grpc.WatchlistServiceStub(channel), callers.metadata(subject="alice")

    async def create(n: int) -> grpc.StatusCode:
        try:
            await stub.CreateWatchlist(
                watch_pb.CreateWatchlistRequest(name=f"w{n}", symbols=["EURUSD"]), metadata=me
            )
        except grpc.aio.AioRpcError as refused:
            return refused.code()
        return grpc.StatusCode.OK

    # 26 at once against a cap of 20 (MAX_WATCHLISTS): on PostgreSQL each counted the others' rows
    # as absent until they committed.
    codes = await asyncio.gather(*(create(n) for n in range(MAX_WATCHLISTS + 6)))
    assert codes.count(grpc.StatusCode.OK) == MAX_WATCHLISTS
    assert codes.count(grpc.StatusCode.FAILED_PRECONDITION) == 6
    listed = await stub.ListWatchlists(watch_pb.ListWatchlistsRequest(), metadata=me)
    assert len(listed.watchlists) == MAX_WATCHLISTS


async def test_symbols_cannot_be_checked_while_the_ml_engine_is_down(
    channel: grpc.aio.Channel, callers: TestCallers, catalogue: StaticCatalogue
) -> None:
    catalogue.available = False
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await alert_grpc.AlertServiceStub(channel).CreateAlertRule(CROSS_UP, metadata=callers.metadata())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rules_on_5m_and_15m_bars_need_pro(channel: grpc.aio.Channel, callers: TestCallers) -> None:
    """Such a rule is evaluated on the signals and predicted ranges of those bars, which the free
    plan does not open (GetSignals' and StreamPredictions' rules): a plan matter, whatever the kind."""
    stub = alert_grpc.AlertServiceStub(channel)
    free, pro = callers.metadata(subject="bob"), callers.metadata(subject="bob", plan="pro")
    for timeframe in ("5m", "15m"):
        for kind in (alert_pb.ALERT_KIND_SIGNAL, alert_pb.ALERT_KIND_RANGE_EXIT):
            request = alert_pb.CreateAlertRuleRequest(symbol="EURUSD", timeframe=timeframe, kind=kind)
            if kind == alert_pb.ALERT_KIND_SIGNAL:
                request.side = alert_pb.SIGNAL_SIDE_ANY
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CreateAlertRule(request, metadata=free)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert f'requires plan pro for timeframe "{timeframe}"' in str(refused.value.details())
            assert (await stub.CreateAlertRule(request, metadata=pro)).rule.timeframe == timeframe
    hourly = await stub.CreateAlertRule(
        alert_pb.CreateAlertRuleRequest(
            symbol="EURUSD", kind=alert_pb.ALERT_KIND_SIGNAL, side=alert_pb.SIGNAL_SIDE_BUY
        ),
        metadata=free,
    )
    assert hourly.rule.timeframe == "1h"
    listed = await stub.ListAlertRules(alert_pb.ListAlertRulesRequest(), metadata=free)
    assert sorted(r.timeframe for r in listed.rules) == ["15m", "15m", "1h", "5m", "5m"]  # pro's, and 1h


async def test_alert_rules_round_trip(channel: grpc.aio.Channel, callers: TestCallers) -> None:
    stub, me = alert_grpc.AlertServiceStub(channel), callers.metadata(subject="alice")
    cross = (await stub.CreateAlertRule(CROSS_UP, metadata=me)).rule
    signal = (
        await stub.CreateAlertRule(
            alert_pb.CreateAlertRuleRequest(
                symbol="BTCUSD",
                timeframe="15m",
                kind=alert_pb.ALERT_KIND_SIGNAL,
                side=alert_pb.SIGNAL_SIDE_SELL,
                min_confidence=0.7,
                notify_email=True,
            ),
            metadata=callers.metadata(subject="alice", plan="pro"),  # 15m bars: pro
        )
    ).rule
    ranged = (
        await stub.CreateAlertRule(
            alert_pb.CreateAlertRuleRequest(symbol="GOOG", kind=alert_pb.ALERT_KIND_RANGE_EXIT), metadata=me
        )
    ).rule
    assert (cross.symbol, cross.timeframe, cross.level, cross.direction) == (
        "EURUSD",
        "1h",
        1.0,
        alert_pb.CROSS_DIRECTION_UP,
    )
    assert (signal.side, signal.min_confidence, signal.notify_email) == (alert_pb.SIGNAL_SIDE_SELL, 0.7, True)
    listed = await stub.ListAlertRules(alert_pb.ListAlertRulesRequest(), metadata=me)
    assert {r.rule_id for r in listed.rules} == {cross.rule_id, signal.rule_id, ranged.rule_id}
    await stub.DeleteAlertRule(alert_pb.DeleteAlertRuleRequest(rule_id=cross.rule_id), metadata=me)
    listed = await stub.ListAlertRules(alert_pb.ListAlertRulesRequest(), metadata=me)
    assert cross.rule_id not in {r.rule_id for r in listed.rules}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (alert_pb.CreateAlertRuleRequest(symbol="EURUSD"), "kind"),
        (alert_pb.CreateAlertRuleRequest(symbol="NOPE", kind=alert_pb.ALERT_KIND_RANGE_EXIT), "symbol"),
        (
            alert_pb.CreateAlertRuleRequest(
                symbol="EURUSD", timeframe="2h", kind=alert_pb.ALERT_KIND_RANGE_EXIT
            ),
            "timeframe",
        ),
        (alert_pb.CreateAlertRuleRequest(symbol="EURUSD", kind=alert_pb.ALERT_KIND_SIGNAL), "side"),
        (
            alert_pb.CreateAlertRuleRequest(
                symbol="EURUSD",
                kind=alert_pb.ALERT_KIND_SIGNAL,
                side=alert_pb.SIGNAL_SIDE_BUY,
                min_confidence=1.5,
            ),
            "min_confidence",
        ),
        (
            alert_pb.CreateAlertRuleRequest(
                symbol="EURUSD", kind=alert_pb.ALERT_KIND_PRICE_CROSS, direction=alert_pb.CROSS_DIRECTION_UP
            ),
            "level",
        ),
        (
            alert_pb.CreateAlertRuleRequest(symbol="EURUSD", kind=alert_pb.ALERT_KIND_PRICE_CROSS, level=1.0),
            "direction",
        ),
        (
            alert_pb.CreateAlertRuleRequest(symbol="EURUSD", kind=alert_pb.ALERT_KIND_RANGE_EXIT, level=1.0),
            "level",
        ),
    ],
)
async def test_bad_rules_are_refused_naming_the_field(
    channel: grpc.aio.Channel, callers: TestCallers, request_: alert_pb.CreateAlertRuleRequest, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await alert_grpc.AlertServiceStub(channel).CreateAlertRule(request_, metadata=callers.metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]


async def test_fired_alerts_are_listed_newest_first_and_streamed_live(
    channel: grpc.aio.Channel, callers: TestCallers, feature: AlertsFeature
) -> None:
    stub, me = alert_grpc.AlertServiceStub(channel), callers.metadata(subject="alice")
    rule = (await stub.CreateAlertRule(CROSS_UP, metadata=me)).rule
    stream = stub.StreamAlerts(alert_pb.StreamAlertsRequest(), metadata=me)
    await stream.initial_metadata()
    while feature.hub.streams("alice") == 0:
        await asyncio.sleep(0.01)
    for i, close in enumerate([0.9, 1.1, 0.9, 1.2]):
        await evaluation.on_bar(feature.ctx, feed_bar(i, close))
    live = [await asyncio.wait_for(stream.read(), 10) for _ in range(2)]
    stream.cancel()
    assert [m.alert.close for m in live] == [1.1, 1.2]
    assert all(
        m.alert.rule_id == rule.rule_id and m.alert.kind == alert_pb.ALERT_KIND_PRICE_CROSS for m in live
    )
    listed = await stub.ListAlerts(alert_pb.ListAlertsRequest(), metadata=me)
    assert [a.alert_id for a in listed.alerts] == [m.alert.alert_id for m in reversed(live)]
    assert listed.alerts[0].bar_time.seconds == feed_bar(3, 0).bar_time
    one = await stub.ListAlerts(alert_pb.ListAlertsRequest(limit=1), metadata=me)
    older = await stub.ListAlerts(alert_pb.ListAlertsRequest(before=one.alerts[0].fired_at), metadata=me)
    assert [a.alert_id for a in one.alerts] == [live[1].alert.alert_id]
    assert [a.alert_id for a in older.alerts] == [live[0].alert.alert_id]


async def test_saved_backtests_round_trip_with_config_and_summary(
    channel: grpc.aio.Channel, callers: TestCallers
) -> None:
    stub, me = saved_grpc.SavedBacktestServiceStub(channel), callers.metadata(subject="alice")
    config = backtest_pb.RunBacktestRequest(
        strategy="sma_cross", symbol="eurusd", timeframe="1h", start_date="2024-01-01", params={"fast": 10}
    )
    summary = backtest_pb.BacktestMetrics(total_return=0.12, sharpe=1.3, trades=42)
    saved = (
        await stub.SaveBacktest(
            saved_pb.SaveBacktestRequest(name="SMA 10", config=config, summary=summary), metadata=me
        )
    ).saved_backtest
    assert saved.config.symbol == "EURUSD" and saved.config.params["fast"] == 10
    assert (saved.summary.total_return, saved.summary.trades) == (0.12, 42)
    listed = await stub.ListSavedBacktests(saved_pb.ListSavedBacktestsRequest(), metadata=me)
    assert [s.saved_backtest_id for s in listed.saved_backtests] == [saved.saved_backtest_id]
    assert listed.saved_backtests[0].config == saved.config
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SaveBacktest(
            saved_pb.SaveBacktestRequest(
                name="x", config=backtest_pb.RunBacktestRequest(strategy="sma_cross", symbol="NOPE")
            ),
            metadata=me,
        )
    assert violated_fields(refused.value) == ["config.symbol"]
    await stub.DeleteSavedBacktest(
        saved_pb.DeleteSavedBacktestRequest(saved_backtest_id=saved.saved_backtest_id), metadata=me
    )
    assert not (
        await stub.ListSavedBacktests(saved_pb.ListSavedBacktestsRequest(), metadata=me)
    ).saved_backtests
