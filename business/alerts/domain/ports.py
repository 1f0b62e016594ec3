"""What the alerts feature needs from outside: its tables (one unit of work per transaction), the
symbol catalogue and the prediction stream of the ML engine, a mailer, and the live delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from business.alerts.domain.entities import Alert, AlertRule, FeedBar, FeedState, SavedBacktest, Watchlist
from business.audit.domain import AuditLog
from business.shared.emails import OutgoingEmail

T = TypeVar("T")


class Watchlists(Protocol):
    def add(self, watchlist: Watchlist) -> None: ...

    def of_user(self, user_id: str) -> list[Watchlist]:
        """By name."""
        ...

    def get(self, user_id: str, watchlist_id: str) -> Watchlist | None:
        """None when there is no such watchlist OF THIS USER."""
        ...

    def replace(self, watchlist: Watchlist) -> None: ...

    def delete(self, user_id: str, watchlist_id: str) -> bool: ...

    def count_of_user(self, user_id: str) -> int: ...


class AlertRules(Protocol):
    def add(self, rule: AlertRule) -> None: ...

    def of_user(self, user_id: str) -> list[AlertRule]:
        """Newest first."""
        ...

    def delete(self, user_id: str, rule_id: str) -> bool: ...

    def count_of_user(self, user_id: str) -> int: ...

    def for_feed(self, symbol: str, timeframe: str) -> list[AlertRule]: ...

    def feed_version(self, symbol: str, timeframe: str) -> tuple[int, datetime | None]:
        """Changes whenever a rule of the feed is added or deleted: (how many, the newest's time)."""
        ...

    def feeds(self) -> set[tuple[str, str]]:
        """Every (symbol, timeframe) some rule watches."""
        ...


class Alerts(Protocol):
    def add_all(self, alerts: list[Alert]) -> None: ...

    def of_user(self, user_id: str, limit: int, before: datetime | None) -> list[Alert]:
        """Newest first."""
        ...

    def at_bar(self, symbol: str, timeframe: str, bar_time: int) -> list[Alert]:
        """What the feed's bar opening at `bar_time` fired."""
        ...


class FeedStates(Protocol):
    def lock(self, symbol: str, timeframe: str) -> FeedState | None:
        """The feed's last evaluated bar, locked until the transaction ends (one evaluator per bar,
        whichever replica: before the feed's first bar, a concurrent evaluator waits for the first
        one's commit too)."""
        ...

    def last_bar_time(self, symbol: str, timeframe: str) -> int | None:
        """Open time (epoch seconds) of the feed's last evaluated bar, None before the first."""
        ...

    def save(self, state: FeedState) -> None: ...


class SavedBacktests(Protocol):
    def add(self, saved: SavedBacktest) -> None: ...

    def of_user(self, user_id: str) -> list[SavedBacktest]:
        """Newest first."""
        ...

    def delete(self, user_id: str, saved_id: str) -> bool: ...


class Accounts(Protocol):
    def take_turn(self, user_id: str) -> None:
        """Makes the user's writes in this transaction wait for their other ones (their row's lock):
        per-user caps are counted one create at a time."""
        ...

    def emails_of(self, user_ids: set[str]) -> dict[str, str]:
        """Each known user's confirmed email address."""
        ...

    def entitled(self, user_ids: set[str], plans: tuple[str, ...]) -> set[str]:
        """The users among `user_ids` on one of `plans`, and the staff whom no plan limits."""
        ...


class AlertsUnitOfWork(Protocol):
    """The repositories the alerts use cases use, over ONE transaction."""

    @property
    def watchlists(self) -> Watchlists: ...

    @property
    def rules(self) -> AlertRules: ...

    @property
    def alerts(self) -> Alerts: ...

    @property
    def feed_states(self) -> FeedStates: ...

    @property
    def saved_backtests(self) -> SavedBacktests: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def audit(self) -> AuditLog: ...


class Transactions(Protocol):
    async def run(self, work: Callable[[AlertsUnitOfWork], T]) -> T: ...

    def run_sync(self, work: Callable[[AlertsUnitOfWork], T]) -> T: ...


class SymbolCatalogue(Protocol):
    async def symbols(self) -> frozenset[str]:
        """The symbols with stored bars; DependencyUnavailable when the ML engine is down."""
        ...


class PredictionFeed(Protocol):
    def bars(self, symbol: str, timeframe: str, after: int | None = None) -> AsyncIterator[FeedBar]:
        """The feed's bars as they close, only those newer than `after` (epoch seconds) when given;
        ends or raises when the stream breaks."""
        ...


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None: ...


class LiveAlerts(Protocol):
    def publish(self, alert: Alert) -> None:
        """Hands the alert to the user's open streams (never waits)."""
        ...
