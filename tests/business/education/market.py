"""An ML engine stand-in for education's MarketData port in the handler tests: a few hourly
EURUSD bars, two indicators, one strategy, a model that says up; `down = True` makes every call
fail as an unreachable ML engine does. The real ML engine is behind the e2e tests
(tests/e2e/test_education_live_edge.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from business.education.domain.entities import UP
from business.education.domain.ports import Bar, ModelAnswer, UnknownTimeframe
from service_runtime.errors import DependencyUnavailable

FIRST_BAR = datetime(2017, 11, 14, 0, 0, tzinfo=UTC)
# Closes rise for 12 hours, then fall.
CLOSES = [1.17 + 0.001 * i for i in range(12)] + [1.182 - 0.002 * i for i in range(12)]


class FakeMarket:
    def __init__(self) -> None:
        self.down = False
        self.model = ModelAnswer(UP, "intraday: range -0.10% to +0.30% over 8 bars")
        self.calls: list[str] = []
        self.answer_delay_s = 0.0  # how long the model takes to answer
        self.removed: set[str] = set()  # symbols the engine no longer has (GetHistory: NOT_FOUND)

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.down:
            raise DependencyUnavailable("the ML engine cannot answer now (UNAVAILABLE): try again shortly")

    async def symbols(self) -> set[str]:
        self._call("symbols")
        return {"EURUSD", "GOOG"}

    async def indicators(self) -> set[str]:
        self._call("indicators")
        return {"rsi", "atr", "macd"}

    async def strategies(self) -> dict[str, set[str]]:
        self._call("strategies")
        return {"sma_cross": {"fast", "slow"}}

    async def bars(self, symbol: str, timeframe: str, *, start: datetime | None, limit: int) -> list[Bar]:
        self._call("bars")
        if symbol in self.removed:
            raise UnknownTimeframe(f"unknown symbol {symbol}")
        if timeframe != "1h":
            raise UnknownTimeframe(f"{symbol} is stored at 1h: {timeframe} cannot be read")
        bars = [Bar(FIRST_BAR + timedelta(hours=i), close) for i, close in enumerate(CLOSES)]
        if start is None:
            return bars[-limit:]
        return [b for b in bars if b.time >= start][:limit]

    async def model_answer(self, symbol: str, timeframe: str, as_of: datetime) -> ModelAnswer:
        self._call("model_answer")
        await asyncio.sleep(self.answer_delay_s)
        return self.model
