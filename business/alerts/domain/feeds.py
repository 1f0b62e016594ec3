"""Following the ML engine's prediction stream of every feed (symbol, timeframe) some rule watches.

One subscription per feed, whoever and however many watch it: each bar is evaluated once for all
of its rules. A broken stream (the ML engine restarting, a network blip) is opened again with a
growing back-off, asking to resume after the feed's last evaluated bar (so a restarted engine's
replay starts there instead of from its first bar); bars replayed anyway are skipped by the
evaluation (see evaluation.py). The set of
feeds is read again every `refresh_s`, and at once when a rule is added or deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from business.alerts.domain import evaluation
from business.alerts.domain.context import AlertsContext
from business.alerts.domain.ports import PredictionFeed

log = logging.getLogger(__name__)

Feed = tuple[str, str]


class FeedWatcher:
    def __init__(
        self,
        ctx: AlertsContext,
        feed: PredictionFeed,
        refresh_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.5, 10.0),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ctx = ctx
        self.feed = feed
        self.refresh_s = refresh_s
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.followed: dict[Feed, asyncio.Task[None]] = {}
        self.connections = 0  # streams opened, reconnects included

    async def run(self) -> None:
        while True:
            try:
                wanted = await self.ctx.transactions.run(lambda uow: uow.rules.feeds())
                self.follow_only(wanted)
            except Exception:
                log.exception("alerts: could not read the watched feeds")
            await self.ctx.rules_changed.wait(self.refresh_s)

    def follow_only(self, wanted: set[Feed]) -> None:
        for key in list(self.followed):
            if key not in wanted or self.followed[key].done():
                self.followed.pop(key).cancel()
        for key in wanted - self.followed.keys():
            self.followed[key] = asyncio.create_task(self.follow(*key), name=f"alerts feed {key[0]} {key[1]}")

    async def follow(self, symbol: str, timeframe: str) -> None:
        delay = self.backoff_s[0]
        while True:
            received = 0
            try:
                self.connections += 1
                after = await self.resume_point(symbol, timeframe)
                evaluation.delivered_up_to(self.ctx, symbol, timeframe, after)
                async for bar in self.feed.bars(symbol, timeframe, after):
                    received += 1
                    await evaluation.on_bar(self.ctx, bar)
                log.info("alerts: the %s %s stream ended; opening it again", symbol, timeframe)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "alerts: the %s %s stream broke (%s); retrying in %.1fs", symbol, timeframe, exc, delay
                )
            if received:
                # It worked until now (a service token's stream ends when the token does): at once.
                delay = self.backoff_s[0]
                continue
            await self.sleep(delay)
            delay = min(delay * 2, self.backoff_s[1])

    async def resume_point(self, symbol: str, timeframe: str) -> int | None:
        return await self.ctx.transactions.run(lambda uow: uow.feed_states.last_bar_time(symbol, timeframe))

    async def close(self) -> None:
        tasks = list(self.followed.values())
        self.followed.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
