"""RunBacktest, through an in-process server, refuses up front what it estimates would outlast its
time budget, and what the caller's plan does not open (ml_signals, ranges over a year)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from ml_engine.backtests.handlers import BacktestHandlers
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.shared.database import MarketStore
from tests.ml_engine.in_process import serve
from tests.support.in_process import TestCallers, error_info, violations
from trading.market.v1 import backtest_service_pb2 as pb
from trading.market.v1 import backtest_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["BacktestService"].full_name


async def call(handlers: BacktestHandlers, callers: TestCallers, rpc: str, request: Any) -> Any:
    async with serve(
        SERVICE, lambda server: pb_grpc.add_BacktestServiceServicer_to_server(handlers, server), callers
    ) as channel:
        # A pro user: these tests are about backtests, not plans (ranges over a year are pro's).
        stub = pb_grpc.BacktestServiceStub(channel)
        return await getattr(stub, rpc)(request, metadata=callers.metadata(plan="pro"))


async def run(handlers: BacktestHandlers, callers: TestCallers, **fields: Any) -> pb.RunBacktestResponse:
    response: pb.RunBacktestResponse = await call(
        handlers, callers, "RunBacktest", pb.RunBacktestRequest(**fields)
    )
    return response


async def sweep(handlers: BacktestHandlers, callers: TestCallers, **fields: Any) -> pb.RunSweepResponse:
    response: pb.RunSweepResponse = await call(handlers, callers, "RunSweep", pb.RunSweepRequest(**fields))
    return response


async def test_a_backtest_over_budget_is_refused_before_reading_bars(
    market_store: MarketStore, callers: TestCallers
) -> None:
    import_sample(market_store.engine, "GOOG")
    windows = BarWindows(market_store.engine)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await run(
            BacktestHandlers(windows, time_budget_s=0.001), callers, strategy="sma_cross", symbol="GOOG"
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    field, description = violations(refused.value)[0]
    assert field == "start_date"
    assert "2148 stored bars" in description and "shorten the range" in description
    # The same request within budget runs, and a shorter range fits a tighter budget.
    within = await run(
        BacktestHandlers(windows, time_budget_s=20), callers, strategy="sma_cross", symbol="GOOG"
    )
    assert within.metrics.bars == 2148
    short = await run(
        BacktestHandlers(windows, time_budget_s=0.01),
        callers,
        strategy="sma_cross",
        symbol="GOOG",
        start_date="2012-01-01",
    )
    assert 0 < short.metrics.bars < 400


async def test_backtests_need_a_caller(market_store: MarketStore, callers: TestCallers) -> None:
    handlers = BacktestHandlers(BarWindows(market_store.engine), time_budget_s=20)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_BacktestServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.BacktestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.RunBacktest(pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG"))
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
        strategies = await stub.ListStrategies(pb.ListStrategiesRequest(), metadata=callers.metadata())
    assert {"sma_cross", "rsi_reversion", "bollinger_breakout"} <= {s.name for s in strategies.strategies}


async def test_params_that_do_not_parse_name_the_parameter(
    market_store: MarketStore, callers: TestCallers
) -> None:
    """What Envoy's transcoder sends for `"params": {"x": {}}`: a map value cut short."""
    raw = b"\x0a\x09sma_cross\x12\x04GOOG\x32\x04\x0a\x01x\x11"
    handlers = BacktestHandlers(BarWindows(market_store.engine), time_budget_s=20)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_BacktestServiceServicer_to_server(handlers, server), callers
    ) as channel:
        call = channel.unary_unary(
            f"/{SERVICE}/RunBacktest", response_deserializer=pb.RunBacktestResponse.FromString
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(raw, metadata=callers.metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in violations(refused.value)] == ["params.x"]
    assert "DecodeError" not in (refused.value.details() or "")


async def test_a_free_plan_backtests_classic_strategies_over_a_year_at_most(
    market_store: MarketStore, callers: TestCallers
) -> None:
    import_sample(market_store.engine, "GOOG")  # daily bars, 2004 to 2013
    handlers = BacktestHandlers(BarWindows(market_store.engine), time_budget_s=20)
    free = callers.metadata(subject="free-user", plan="free")
    async with serve(
        SERVICE, lambda server: pb_grpc.add_BacktestServiceServicer_to_server(handlers, server), callers
    ) as channel:
        stub = pb_grpc.BacktestServiceStub(channel)
        year = await stub.RunBacktest(
            pb.RunBacktestRequest(
                strategy="sma_cross", symbol="GOOG", start_date="2012-01-01", end_date="2013-01-01"
            ),
            metadata=free,
        )
        assert 200 < year.metrics.bars < 260
        for fields, field, shown in (
            # Stated dates: refused before any bar is read.
            (
                {"start_date": "2010-01-01", "end_date": "2012-01-01"},
                "start_date",
                "(a range of 730 days; at most 366)",
            ),
            # No dates: every stored bar, which span more than a year.
            ({}, "start_date", "(a range of 3"),
            (
                {"strategy": "ml_signals", "start_date": "2012-01-01", "end_date": "2012-06-01"},
                "strategy",
                '"ml_signals"',
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.RunBacktest(
                    pb.RunBacktestRequest(**{"strategy": "sma_cross", "symbol": "GOOG", **fields}),
                    metadata=free,
                )
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert f"requires plan pro for {field} {shown}" in str(refused.value.details())
            info = error_info(refused.value)
            assert (info.reason, info.metadata["plan"], info.metadata["field"]) == (
                "PLAN_REQUIRED",
                "pro",
                field,
            )
        # Pro, a service token (business for a lesson block) and an admin backtest every stored bar.
        for who in (
            callers.metadata(plan="pro"),
            callers.metadata(subject="service:business", roles=("service",), plan=""),
            callers.metadata(subject="admin-1", roles=("admin",), plan="free"),
        ):
            whole = await stub.RunBacktest(
                pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG"), metadata=who
            )
            assert whole.metrics.bars == 2148


async def test_a_sweep_ranks_the_grid_and_refuses_what_outlasts_the_budget(
    market_store: MarketStore, callers: TestCallers
) -> None:
    import_sample(market_store.engine, "GOOG")
    windows = BarWindows(market_store.engine)
    backtest = pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG", commission=0.001)
    grid = [
        pb.ParameterValues(name="fast", values=[5, 10, 20]),
        pb.ParameterValues(name="slow", values=[10, 30]),
    ]
    reply = await sweep(
        BacktestHandlers(windows, time_budget_s=20),
        callers,
        backtest=backtest,
        grid=grid,
        rank_by=pb.SWEEP_RANK_TOTAL_RETURN,
        top=3,
    )
    assert reply.symbol == "GOOG" and reply.bars == 2148
    assert reply.evaluated == 4 and reply.skipped == 2  # fast 10 and 20 are not below slow 10
    assert [r.rank for r in reply.results] == [1, 2, 3]
    returns = [r.metrics.total_return for r in reply.results]
    assert returns == sorted(returns, reverse=True)
    best = reply.results[0]
    alone = await run(
        BacktestHandlers(windows, time_budget_s=20),
        callers,
        strategy="sma_cross",
        symbol="GOOG",
        commission=0.001,
        params=dict(best.params),
    )
    assert alone.metrics.total_return == best.metrics.total_return
    assert alone.metrics.trades == best.metrics.trades

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await sweep(BacktestHandlers(windows, time_budget_s=0.02), callers, backtest=backtest, grid=grid)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    field, description = violations(refused.value)[0]
    assert field == "backtest.start_date" and "6 backtests" in description
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await sweep(
            BacktestHandlers(windows, time_budget_s=20),
            callers,
            backtest=backtest,
            grid=[pb.ParameterValues(name="fast", values=[0])],
        )
    assert violations(refused.value)[0][0] == "grid"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        # RunBacktest refuses this range (too few bars): a sweep answered OK with every set skipped.
        (dict(start_date="2012-01-02", end_date="2012-01-20"), "backtest.start_date"),
        (dict(params={"bogus": 1.0}), "backtest.params.bogus"),
        (dict(params={"slow": 5000.0}), "backtest.params.slow"),
        # The backtest's fields sit under `backtest.` in a sweep, costs included.
        (dict(commission=0.5), "backtest.commission"),
        (dict(timeframe="2h"), "backtest.timeframe"),
    ],
)
async def test_a_sweep_refuses_what_run_backtest_refuses_naming_the_backtest_field(
    market_store: MarketStore, callers: TestCallers, fields: dict[str, Any], field: str
) -> None:
    import_sample(market_store.engine, "GOOG")
    handlers = BacktestHandlers(BarWindows(market_store.engine), time_budget_s=20)
    backtest = pb.RunBacktestRequest(strategy="sma_cross", symbol="GOOG", **fields)
    with pytest.raises(grpc.aio.AioRpcError) as single:
        await call(handlers, callers, "RunBacktest", backtest)
    assert single.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(single.value)[0][0] == field.removeprefix("backtest.")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await sweep(
            handlers, callers, backtest=backtest, grid=[pb.ParameterValues(name="fast", values=[5, 10])]
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(refused.value)[0][0] == field
