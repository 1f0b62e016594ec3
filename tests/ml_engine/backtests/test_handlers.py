"""RunBacktest refuses up front what it estimates would outlast its time budget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ml_engine.backtests.handlers import BacktestHandlers
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.shared.database import MarketStore
from service_runtime.errors import InvalidArgument
from trading.market.v1 import backtest_service_pb2 as pb


def run(handlers: BacktestHandlers, **fields: Any) -> pb.RunBacktestResponse:
    context: Any = None  # the handler does not use its context
    return asyncio.run(handlers.RunBacktest(pb.RunBacktestRequest(**fields), context))


def test_a_backtest_over_budget_is_refused_before_reading_bars(market_store: MarketStore) -> None:
    import_sample(market_store.engine, "GOOG")
    windows = BarWindows(market_store.engine)
    with pytest.raises(InvalidArgument) as refused:
        run(BacktestHandlers(windows, time_budget_s=0.001), strategy="sma_cross", symbol="GOOG")
    violation = refused.value.violations[0]
    assert violation.field == "start_date"
    assert "2148 stored bars" in violation.description and "shorten the range" in violation.description
    # The same request within budget runs, and a shorter range fits a tighter budget.
    assert (
        run(BacktestHandlers(windows, time_budget_s=20), strategy="sma_cross", symbol="GOOG").metrics.bars
        == 2148
    )
    short = run(
        BacktestHandlers(windows, time_budget_s=0.01),
        strategy="sma_cross",
        symbol="GOOG",
        start_date="2012-01-01",
    )
    assert 0 < short.metrics.bars < 400
