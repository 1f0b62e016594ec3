"""The alerts domain's ports on SQLAlchemy, inside one transaction's Session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from business.alerts.data.tables import AlertRow, AlertRuleRow, FeedStateRow, SavedBacktestRow, WatchlistRow
from business.alerts.domain.entities import (
    Alert,
    AlertKind,
    AlertRule,
    CrossDirection,
    FeedState,
    SavedBacktest,
    SignalSide,
    Watchlist,
)
from business.audit.data import SqlAuditLog
from business.identity.data.tables import UserRow
from business.shared.database import locked_or_inserted
from service_runtime.caller import PLAN_EXEMPT_ROLES

# Ids are UUIDs: a longer one cannot exist (and PostgreSQL would refuse to compare it).
MAX_ID = 36


def _watchlist(row: WatchlistRow) -> Watchlist:
    return Watchlist(row.id, row.user_id, row.name, tuple(row.symbols), row.created_at, row.updated_at)


class SqlWatchlists:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, watchlist: Watchlist) -> None:
        self.session.add(
            WatchlistRow(
                id=watchlist.id,
                user_id=watchlist.user_id,
                name=watchlist.name,
                symbols=list(watchlist.symbols),
                created_at=watchlist.created_at,
                updated_at=watchlist.updated_at,
            )
        )

    def of_user(self, user_id: str) -> list[Watchlist]:
        rows = self.session.scalars(
            select(WatchlistRow)
            .where(WatchlistRow.user_id == user_id)
            .order_by(WatchlistRow.name, WatchlistRow.id)
        )
        return [_watchlist(row) for row in rows]

    def _row(self, user_id: str, watchlist_id: str) -> WatchlistRow | None:
        if len(watchlist_id) > MAX_ID:
            return None
        row = self.session.get(WatchlistRow, watchlist_id)
        return row if row is not None and row.user_id == user_id else None

    def get(self, user_id: str, watchlist_id: str) -> Watchlist | None:
        row = self._row(user_id, watchlist_id)
        return _watchlist(row) if row else None

    def replace(self, watchlist: Watchlist) -> None:
        row = self._row(watchlist.user_id, watchlist.id)
        assert row is not None
        row.name = watchlist.name
        row.symbols = list(watchlist.symbols)
        row.updated_at = watchlist.updated_at

    def delete(self, user_id: str, watchlist_id: str) -> bool:
        row = self._row(user_id, watchlist_id)
        if row is None:
            return False
        self.session.delete(row)
        return True

    def count_of_user(self, user_id: str) -> int:
        return self.session.scalar(select(func.count()).where(WatchlistRow.user_id == user_id)) or 0


def _rule(row: AlertRuleRow | Row[Any]) -> AlertRule:
    return AlertRule(
        id=row.id,
        user_id=row.user_id,
        symbol=row.symbol,
        timeframe=row.timeframe,
        kind=AlertKind(row.kind),
        side=SignalSide(row.side) if row.side else None,
        min_confidence=row.min_confidence,
        level=row.level,
        direction=CrossDirection(row.direction) if row.direction else None,
        notify_email=row.notify_email,
        created_at=row.created_at,
    )


class SqlAlertRules:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, rule: AlertRule) -> None:
        assert rule.created_at is not None
        self.session.add(
            AlertRuleRow(
                id=rule.id,
                user_id=rule.user_id,
                symbol=rule.symbol,
                timeframe=rule.timeframe,
                kind=rule.kind.value,
                side=rule.side.value if rule.side else None,
                min_confidence=rule.min_confidence,
                level=rule.level,
                direction=rule.direction.value if rule.direction else None,
                notify_email=rule.notify_email,
                created_at=rule.created_at,
            )
        )

    def of_user(self, user_id: str) -> list[AlertRule]:
        rows = self.session.scalars(
            select(AlertRuleRow)
            .where(AlertRuleRow.user_id == user_id)
            .order_by(AlertRuleRow.created_at.desc(), AlertRuleRow.id)
        )
        return [_rule(row) for row in rows]

    def delete(self, user_id: str, rule_id: str) -> bool:
        if len(rule_id) > MAX_ID:
            return False
        done = self.session.execute(
            delete(AlertRuleRow).where(AlertRuleRow.id == rule_id, AlertRuleRow.user_id == user_id)
        )
        return bool(getattr(done, "rowcount", 0))

    def count_of_user(self, user_id: str) -> int:
        return self.session.scalar(select(func.count()).where(AlertRuleRow.user_id == user_id)) or 0

    def for_feed(self, symbol: str, timeframe: str) -> list[AlertRule]:
        # Plain rows, not ORM objects: a feed may have tens of thousands of rules, read on every bar.
        table = AlertRuleRow.__table__
        rows = self.session.execute(
            select(table).where(table.c.symbol == symbol, table.c.timeframe == timeframe)
        )
        return [_rule(row) for row in rows]

    def feed_version(self, symbol: str, timeframe: str) -> tuple[int, datetime | None]:
        row = self.session.execute(
            select(func.count(), func.max(AlertRuleRow.created_at)).where(
                AlertRuleRow.symbol == symbol, AlertRuleRow.timeframe == timeframe
            )
        ).one()
        return int(row[0]), row[1]

    def feeds(self) -> set[tuple[str, str]]:
        rows = self.session.execute(select(AlertRuleRow.symbol, AlertRuleRow.timeframe).distinct())
        return {(symbol, timeframe) for symbol, timeframe in rows}


def _alert(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        rule_id=row.rule_id,
        user_id=row.user_id,
        symbol=row.symbol,
        timeframe=row.timeframe,
        kind=AlertKind(row.kind),
        bar_time=row.bar_time,
        close=row.close,
        message=row.message,
        fired_at=row.fired_at,
    )


class SqlAlerts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_all(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        # One multi-row INSERT (a popular level can fire thousands of rules on one bar).
        self.session.execute(
            insert(AlertRow),
            [
                {
                    "id": a.id,
                    "rule_id": a.rule_id,
                    "user_id": a.user_id,
                    "symbol": a.symbol,
                    "timeframe": a.timeframe,
                    "kind": a.kind.value,
                    "bar_time": a.bar_time,
                    "close": a.close,
                    "message": a.message,
                    "fired_at": a.fired_at,
                }
                for a in alerts
            ],
        )

    def of_user(self, user_id: str, limit: int, before: datetime | None) -> list[Alert]:
        query = select(AlertRow).where(AlertRow.user_id == user_id)
        if before is not None:
            query = query.where(AlertRow.fired_at < before)
        rows = self.session.scalars(query.order_by(AlertRow.fired_at.desc(), AlertRow.id).limit(limit))
        return [_alert(row) for row in rows]

    def at_bar(self, symbol: str, timeframe: str, bar_time: int) -> list[Alert]:
        rows = self.session.scalars(
            select(AlertRow)
            .where(AlertRow.symbol == symbol, AlertRow.timeframe == timeframe, AlertRow.bar_time == bar_time)
            .order_by(AlertRow.id)
        )
        return [_alert(row) for row in rows]


# The bar time of a feed state row inserted to be locked before the feed's first bar; the same
# transaction saves the real state over it, so no other transaction ever reads it.
NOT_YET_EVALUATED = -(2**62)


def _not_yet_evaluated(symbol: str, timeframe: str) -> FeedStateRow:
    return FeedStateRow(
        symbol=symbol,
        timeframe=timeframe,
        bar_time=NOT_YET_EVALUATED,
        close=0.0,
        action="",
        confidence=0.0,
        predicted_high=0.0,
        predicted_low=0.0,
        out_of_range=False,
    )


class SqlFeedStates:
    def __init__(self, session: Session) -> None:
        self.session = session

    def last_bar_time(self, symbol: str, timeframe: str) -> int | None:
        return self.session.scalar(
            select(FeedStateRow.bar_time).where(
                FeedStateRow.symbol == symbol, FeedStateRow.timeframe == timeframe
            )
        )

    def lock(self, symbol: str, timeframe: str) -> FeedState | None:
        # Before the feed's first bar a placeholder row is what the replicas lock.
        row, inserted = locked_or_inserted(
            self.session, FeedStateRow, (symbol, timeframe), lambda: _not_yet_evaluated(symbol, timeframe)
        )
        if inserted or row.bar_time == NOT_YET_EVALUATED:
            return None
        return FeedState(
            symbol=row.symbol,
            timeframe=row.timeframe,
            bar_time=row.bar_time,
            close=row.close,
            action=row.action,
            confidence=row.confidence,
            predicted_high=row.predicted_high,
            predicted_low=row.predicted_low,
            out_of_range=row.out_of_range,
        )

    def save(self, state: FeedState) -> None:
        self.session.merge(
            FeedStateRow(
                symbol=state.symbol,
                timeframe=state.timeframe,
                bar_time=state.bar_time,
                close=state.close,
                action=state.action,
                confidence=state.confidence,
                predicted_high=state.predicted_high,
                predicted_low=state.predicted_low,
                out_of_range=state.out_of_range,
            )
        )


def _saved(row: SavedBacktestRow) -> SavedBacktest:
    return SavedBacktest(row.id, row.user_id, row.name, row.config, row.summary, row.symbol, row.created_at)


class SqlSavedBacktests:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, saved: SavedBacktest) -> None:
        self.session.add(
            SavedBacktestRow(
                id=saved.id,
                user_id=saved.user_id,
                name=saved.name,
                symbol=saved.symbol,
                config=saved.config,
                summary=saved.summary,
                created_at=saved.created_at,
            )
        )

    def of_user(self, user_id: str) -> list[SavedBacktest]:
        rows = self.session.scalars(
            select(SavedBacktestRow)
            .where(SavedBacktestRow.user_id == user_id)
            .order_by(SavedBacktestRow.created_at.desc(), SavedBacktestRow.id)
        )
        return [_saved(row) for row in rows]

    def delete(self, user_id: str, saved_id: str) -> bool:
        if len(saved_id) > MAX_ID:
            return False
        done = self.session.execute(
            delete(SavedBacktestRow).where(
                SavedBacktestRow.id == saved_id, SavedBacktestRow.user_id == user_id
            )
        )
        return bool(getattr(done, "rowcount", 0))


class SqlAccounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def entitled(self, user_ids: set[str], plans: tuple[str, ...]) -> set[str]:
        if not user_ids:
            return set()
        # Admins pass every plan check (service_runtime.caller.PLAN_EXEMPT_ROLES; accounts never
        # hold the service role).
        rows = self.session.scalars(
            select(UserRow.id).where(
                UserRow.id.in_(user_ids),
                or_(UserRow.plan.in_(plans), UserRow.role.in_(PLAN_EXEMPT_ROLES)),
            )
        )
        return set(rows)

    def take_turn(self, user_id: str) -> None:
        # The user's row lock: on PostgreSQL two creates at once would both count under the cap.
        self.session.execute(select(UserRow.id).where(UserRow.id == user_id).with_for_update())

    def emails_of(self, user_ids: set[str]) -> dict[str, str]:
        if not user_ids:
            return {}
        # Only confirmed addresses: an alert never mails an address its owner did not prove.
        rows = self.session.execute(
            select(UserRow.id, UserRow.email).where(
                UserRow.id.in_(user_ids), UserRow.email_verified.is_(True)
            )
        )
        return {user_id: email for user_id, email in rows}


class SqlAlertsUnitOfWork:
    def __init__(self, session: Session) -> None:
        self.watchlists = SqlWatchlists(session)
        self.rules = SqlAlertRules(session)
        self.alerts = SqlAlerts(session)
        self.feed_states = SqlFeedStates(session)
        self.saved_backtests = SqlSavedBacktests(session)
        self.accounts = SqlAccounts(session)
        self.audit = SqlAuditLog(session)
