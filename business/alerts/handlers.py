"""WatchlistService, AlertService and SavedBacktestService: requests -> the alerts use cases ->
responses. Every call acts on the caller's own records only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

from google.protobuf.json_format import MessageToDict, ParseDict

from business.alerts.domain import alert_rules, saved_backtests, watchlists
from business.alerts.domain.alert_rules import RuleRequest
from business.alerts.domain.entities import (
    Alert,
    AlertKind,
    AlertRule,
    CrossDirection,
    SavedBacktest,
    SignalSide,
    Watchlist,
)
from business.alerts.live import LiveAlertHub
from business.alerts.wiring import AlertsFeature
from business.shared.proto_mapping import Context, client_of
from service_runtime.caller import current_caller
from service_runtime.timestamps import to_optional_timestamp, to_timestamp
from trading.alerts.v1 import alert_service_pb2 as alert_pb
from trading.alerts.v1 import alert_service_pb2_grpc as alert_grpc
from trading.alerts.v1 import saved_backtest_service_pb2 as saved_pb
from trading.alerts.v1 import saved_backtest_service_pb2_grpc as saved_grpc
from trading.alerts.v1 import watchlist_service_pb2 as watch_pb
from trading.alerts.v1 import watchlist_service_pb2_grpc as watch_grpc
from trading.market.v1 import backtest_service_pb2 as backtest_pb

KINDS = {
    AlertKind.SIGNAL: alert_pb.ALERT_KIND_SIGNAL,
    AlertKind.PRICE_CROSS: alert_pb.ALERT_KIND_PRICE_CROSS,
    AlertKind.RANGE_EXIT: alert_pb.ALERT_KIND_RANGE_EXIT,
}
SIDES = {
    SignalSide.BUY: alert_pb.SIGNAL_SIDE_BUY,
    SignalSide.SELL: alert_pb.SIGNAL_SIDE_SELL,
    SignalSide.ANY: alert_pb.SIGNAL_SIDE_ANY,
}
DIRECTIONS = {
    CrossDirection.UP: alert_pb.CROSS_DIRECTION_UP,
    CrossDirection.DOWN: alert_pb.CROSS_DIRECTION_DOWN,
    CrossDirection.ANY: alert_pb.CROSS_DIRECTION_ANY,
}
KINDS_FROM_PB = {value: key for key, value in KINDS.items()}
SIDES_FROM_PB = {value: key for key, value in SIDES.items()}
DIRECTIONS_FROM_PB = {value: key for key, value in DIRECTIONS.items()}


def watchlist_message(w: Watchlist) -> watch_pb.Watchlist:
    return watch_pb.Watchlist(
        watchlist_id=w.id,
        name=w.name,
        symbols=list(w.symbols),
        created_at=to_timestamp(w.created_at),
        updated_at=to_timestamp(w.updated_at),
    )


class WatchlistHandlers(watch_grpc.WatchlistServiceServicer):
    def __init__(self, feature: AlertsFeature) -> None:
        self.ctx = feature.ctx

    async def CreateWatchlist(
        self, request: watch_pb.CreateWatchlistRequest, context: Context
    ) -> watch_pb.CreateWatchlistResponse:
        created = await watchlists.create(
            self.ctx, current_caller(), request.name, list(request.symbols), client_of(context)
        )
        return watch_pb.CreateWatchlistResponse(watchlist=watchlist_message(created))

    async def ListWatchlists(
        self, request: watch_pb.ListWatchlistsRequest, context: Context
    ) -> watch_pb.ListWatchlistsResponse:
        found = await watchlists.list_of(self.ctx, current_caller())
        return watch_pb.ListWatchlistsResponse(watchlists=[watchlist_message(w) for w in found])

    async def GetWatchlist(
        self, request: watch_pb.GetWatchlistRequest, context: Context
    ) -> watch_pb.GetWatchlistResponse:
        found = await watchlists.get(self.ctx, current_caller(), request.watchlist_id)
        return watch_pb.GetWatchlistResponse(watchlist=watchlist_message(found))

    async def UpdateWatchlist(
        self, request: watch_pb.UpdateWatchlistRequest, context: Context
    ) -> watch_pb.UpdateWatchlistResponse:
        changed = await watchlists.update(
            self.ctx, current_caller(), request.watchlist_id, request.name, list(request.symbols)
        )
        return watch_pb.UpdateWatchlistResponse(watchlist=watchlist_message(changed))

    async def DeleteWatchlist(
        self, request: watch_pb.DeleteWatchlistRequest, context: Context
    ) -> watch_pb.DeleteWatchlistResponse:
        await watchlists.delete(self.ctx, current_caller(), request.watchlist_id, client_of(context))
        return watch_pb.DeleteWatchlistResponse()


def rule_message(rule: AlertRule) -> alert_pb.AlertRule:
    return alert_pb.AlertRule(
        rule_id=rule.id,
        symbol=rule.symbol,
        timeframe=rule.timeframe,
        kind=KINDS[rule.kind],
        side=SIDES[rule.side] if rule.side else alert_pb.SIGNAL_SIDE_UNSPECIFIED,
        min_confidence=rule.min_confidence,
        level=rule.level,
        direction=DIRECTIONS[rule.direction] if rule.direction else alert_pb.CROSS_DIRECTION_UNSPECIFIED,
        notify_email=rule.notify_email,
        created_at=to_optional_timestamp(rule.created_at),
    )


def alert_message(alert: Alert) -> alert_pb.Alert:
    return alert_pb.Alert(
        alert_id=alert.id,
        rule_id=alert.rule_id,
        symbol=alert.symbol,
        timeframe=alert.timeframe,
        kind=KINDS[alert.kind],
        bar_time=to_timestamp(alert.bar_time),
        close=alert.close,
        message=alert.message,
        fired_at=to_timestamp(alert.fired_at),
    )


def rule_request(request: alert_pb.CreateAlertRuleRequest) -> RuleRequest:
    return RuleRequest(
        symbol=request.symbol,
        timeframe=request.timeframe,
        kind=KINDS_FROM_PB.get(request.kind),
        side=SIDES_FROM_PB.get(request.side),
        min_confidence=request.min_confidence,
        level=request.level,
        direction=DIRECTIONS_FROM_PB.get(request.direction),
        notify_email=request.notify_email,
    )


class AlertHandlers(alert_grpc.AlertServiceServicer):
    def __init__(self, feature: AlertsFeature) -> None:
        self.ctx = feature.ctx
        self.hub: LiveAlertHub = feature.hub

    async def CreateAlertRule(
        self, request: alert_pb.CreateAlertRuleRequest, context: Context
    ) -> alert_pb.CreateAlertRuleResponse:
        rule = await alert_rules.create(self.ctx, current_caller(), rule_request(request), client_of(context))
        return alert_pb.CreateAlertRuleResponse(rule=rule_message(rule))

    async def ListAlertRules(
        self, request: alert_pb.ListAlertRulesRequest, context: Context
    ) -> alert_pb.ListAlertRulesResponse:
        rules = await alert_rules.list_of(self.ctx, current_caller())
        return alert_pb.ListAlertRulesResponse(rules=[rule_message(r) for r in rules])

    async def DeleteAlertRule(
        self, request: alert_pb.DeleteAlertRuleRequest, context: Context
    ) -> alert_pb.DeleteAlertRuleResponse:
        await alert_rules.delete(self.ctx, current_caller(), request.rule_id, client_of(context))
        return alert_pb.DeleteAlertRuleResponse()

    async def ListAlerts(
        self, request: alert_pb.ListAlertsRequest, context: Context
    ) -> alert_pb.ListAlertsResponse:
        before = request.before.ToDatetime(tzinfo=UTC) if request.HasField("before") else None
        alerts = await alert_rules.history(self.ctx, current_caller(), request.limit, before)
        return alert_pb.ListAlertsResponse(alerts=[alert_message(a) for a in alerts])

    async def StreamAlerts(
        self, request: alert_pb.StreamAlertsRequest, context: Context
    ) -> AsyncIterator[alert_pb.StreamAlertsResponse]:
        # Headers now: a browser sees the stream open before the first alert fires.
        await context.send_initial_metadata(())
        async for alert in self.hub.alerts(current_caller().subject):
            yield alert_pb.StreamAlertsResponse(alert=alert_message(alert))


def saved_message(saved: SavedBacktest) -> saved_pb.SavedBacktest:
    return saved_pb.SavedBacktest(
        saved_backtest_id=saved.id,
        name=saved.name,
        config=ParseDict(saved.config, backtest_pb.RunBacktestRequest(), ignore_unknown_fields=True),
        summary=ParseDict(saved.summary, backtest_pb.BacktestMetrics(), ignore_unknown_fields=True),
        created_at=to_timestamp(saved.created_at),
    )


class SavedBacktestHandlers(saved_grpc.SavedBacktestServiceServicer):
    def __init__(self, feature: AlertsFeature) -> None:
        self.ctx = feature.ctx

    async def SaveBacktest(
        self, request: saved_pb.SaveBacktestRequest, context: Context
    ) -> saved_pb.SaveBacktestResponse:
        saved = await saved_backtests.save(
            self.ctx,
            current_caller(),
            request.name,
            MessageToDict(request.config),
            MessageToDict(request.summary),
        )
        return saved_pb.SaveBacktestResponse(saved_backtest=saved_message(saved))

    async def ListSavedBacktests(
        self, request: saved_pb.ListSavedBacktestsRequest, context: Context
    ) -> saved_pb.ListSavedBacktestsResponse:
        found = await saved_backtests.list_of(self.ctx, current_caller())
        return saved_pb.ListSavedBacktestsResponse(saved_backtests=[saved_message(s) for s in found])

    async def DeleteSavedBacktest(
        self, request: saved_pb.DeleteSavedBacktestRequest, context: Context
    ) -> saved_pb.DeleteSavedBacktestResponse:
        await saved_backtests.delete(self.ctx, current_caller(), request.saved_backtest_id)
        return saved_pb.DeleteSavedBacktestResponse()
