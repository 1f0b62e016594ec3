"""BacktestService handlers: read the bars of the range, refuse what cannot finish in time, run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from ml_engine.backtests.domain import (
    BacktestConfig,
    BacktestMetrics,
    BacktestResult,
    ExitReason,
    Side,
    StrategySpec,
    estimate_seconds,
    get_strategy,
    list_strategies,
    periods_per_year_for,
    run_backtest,
)
from ml_engine.backtests.domain.sweep import MAX_SETS, check_fixed_params, parameter_sets, run_sweep
from ml_engine.market_data.bar_windows import BarWindows, Series
from ml_engine.market_data.domain.bars import Bars
from ml_engine.market_data.domain.times import parse_request_time
from ml_engine.shared.proto_mapping import check_limit, parameter_proto
from service_runtime.caller import current_caller
from service_runtime.errors import FieldViolation, InvalidArgument
from service_runtime.plans import check_request, check_span, span_limit
from service_runtime.timestamps import to_timestamp
from trading.common.v1 import access_pb2
from trading.market.v1 import backtest_service_pb2 as pb
from trading.market.v1 import backtest_service_pb2_grpc as pb_grpc

# RunBacktest's access rule: the plan limits of a backtest (ml_signals, ranges over a year), which a
# sweep's backtest obeys too.
RUN_BACKTEST = pb.DESCRIPTOR.services_by_name["BacktestService"].methods_by_name["RunBacktest"]
RUN_BACKTEST_RULE = RUN_BACKTEST.GetOptions().Extensions[access_pb2.access]
# Free plans backtest over at most this span (RunBacktest's access rule declares it).
RANGE_LIMIT = span_limit(RUN_BACKTEST, "start_date")
# Reading stored bars costs about this much per row (PyMySQL; bench/market_data.py measures it).
READ_SECONDS_PER_ROW = 6e-6

# Ranked results a sweep answers when the request does not say.
DEFAULT_TOP = 20
SWEEP_RANKS = {
    pb.SWEEP_RANK_UNSPECIFIED: "sharpe",
    pb.SWEEP_RANK_SHARPE: "sharpe",
    pb.SWEEP_RANK_TOTAL_RETURN: "total_return",
    pb.SWEEP_RANK_SORTINO: "sortino",
    pb.SWEEP_RANK_PROFIT_FACTOR: "profit_factor",
    pb.SWEEP_RANK_MAX_DRAWDOWN: "max_drawdown",
}

SIDES = {Side.LONG: pb.TRADE_SIDE_LONG, Side.SHORT: pb.TRADE_SIDE_SHORT}
EXIT_REASONS = {
    ExitReason.SIGNAL: pb.EXIT_REASON_SIGNAL,
    ExitReason.STOP_LOSS: pb.EXIT_REASON_STOP_LOSS,
    ExitReason.TAKE_PROFIT: pb.EXIT_REASON_TAKE_PROFIT,
    ExitReason.END: pb.EXIT_REASON_END,
}


@contextmanager
def fields_under(prefix: str) -> Iterator[None]:
    """The domain names a backtest's fields as RunBacktest has them (`commission`, `params.fast`);
    RunSweep holds them under `backtest.`, so its violations are named `<prefix><field>`."""
    try:
        yield
    except InvalidArgument as error:
        if not prefix:
            raise
        raise InvalidArgument(
            *(FieldViolation(prefix + v.field, v.description) for v in error.violations)
        ) from None


def strategy_info(spec: StrategySpec) -> pb.StrategyInfo:
    return pb.StrategyInfo(
        name=spec.name,
        description=spec.description,
        parameters=[parameter_proto(p) for p in spec.params],
    )


def metrics_to_proto(m: BacktestMetrics) -> pb.BacktestMetrics:
    return pb.BacktestMetrics(
        start=to_timestamp(m.start),
        end=to_timestamp(m.end),
        bars=m.bars,
        final_equity=m.final_equity,
        total_return=m.total_return,
        cagr=m.cagr,
        annual_volatility=m.annual_volatility,
        sharpe=m.sharpe,
        sortino=m.sortino,
        max_drawdown=m.max_drawdown,
        max_drawdown_bars=m.max_drawdown_bars,
        max_drawdown_seconds=m.max_drawdown_seconds,
        win_rate=m.win_rate,
        profit_factor=m.profit_factor,
        expectancy=m.expectancy,
        exposure=m.exposure,
        trades=m.trades,
        buy_and_hold_return=m.buy_and_hold_return,
    )


def result_to_proto(result: BacktestResult) -> pb.RunBacktestResponse:
    response = pb.RunBacktestResponse(
        strategy=result.strategy,
        metrics=metrics_to_proto(result.metrics),
        trades=[
            pb.Trade(
                side=SIDES[t.side],
                size=t.size,
                entry_time=to_timestamp(t.entry_time),
                entry_price=t.entry_price,
                exit_time=to_timestamp(t.exit_time),
                exit_price=t.exit_price,
                pnl=t.pnl,
                return_pct=t.return_pct,
                exit_reason=EXIT_REASONS[t.exit_reason],
                entry_bar=t.entry_bar,
                exit_bar=t.exit_bar,
            )
            for t in result.trades
        ],
        equity_curve=[
            pb.EquityPoint(time=to_timestamp(int(t)), equity=float(e))
            for t, e in zip(result.equity_curve.times, result.equity_curve.equity, strict=True)
        ],
        folds=[metrics_to_proto(f) for f in result.folds],
    )
    for name, value in result.params.items():
        response.params[name] = float(value)
    return response


class BacktestHandlers(pb_grpc.BacktestServiceServicer):
    def __init__(self, windows: BarWindows, time_budget_s: float) -> None:
        self.windows = windows
        self.time_budget_s = time_budget_s
        self._catalogue = pb.ListStrategiesResponse(strategies=[strategy_info(s) for s in list_strategies()])

    async def ListStrategies(
        self, request: pb.ListStrategiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStrategiesResponse:
        return self._catalogue

    async def RunBacktest(
        self, request: pb.RunBacktestRequest, context: grpc.aio.ServicerContext
    ) -> pb.RunBacktestResponse:
        started = time.perf_counter()
        series, config, bars = await self._read(request)
        result = await asyncio.to_thread(run_backtest, bars, request.strategy, dict(request.params), config)
        response = result_to_proto(result)
        response.symbol = series.symbol
        response.timeframe = series.target.name
        response.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return response

    async def RunSweep(
        self, request: pb.RunSweepRequest, context: grpc.aio.ServicerContext
    ) -> pb.RunSweepResponse:
        started = time.perf_counter()
        backtest = request.backtest
        if not backtest.strategy.strip():
            raise InvalidArgument.field("backtest.strategy", "is required; see GET /api/strategies")
        with fields_under("backtest."):
            get_strategy(backtest.strategy)
        check_request(
            current_caller(), RUN_BACKTEST_RULE, backtest
        )  # RunBacktest's interceptor checks its own
        top = check_limit(request.top, MAX_SETS, "top") if request.top else DEFAULT_TOP
        grid = {g.name: list(g.values) for g in request.grid}
        if len(grid) != len(request.grid):
            raise InvalidArgument.field("grid", "lists a parameter twice")
        with fields_under("backtest."):
            check_fixed_params(backtest.strategy, dict(backtest.params))
        sets = parameter_sets(backtest.strategy, grid, dict(backtest.params))
        rank_by = SWEEP_RANKS.get(request.rank_by)
        if rank_by is None:
            raise InvalidArgument.field("rank_by", f"unknown ranking {request.rank_by}")
        series, config, bars = await self._read(backtest, "backtest.", len(sets))
        with fields_under("backtest."):  # too few bars for a set, a timeframe ml_signals has no model for
            sweep = await asyncio.to_thread(run_sweep, bars, backtest.strategy, sets, config, rank_by)
        return pb.RunSweepResponse(
            strategy=backtest.strategy,
            symbol=series.symbol,
            timeframe=series.target.name,
            rank_by=request.rank_by or pb.SWEEP_RANK_SHARPE,
            results=[
                pb.SweepResult(params=run.params, metrics=metrics_to_proto(run.metrics), rank=i + 1)
                for i, run in enumerate(sweep.runs[:top])
            ],
            evaluated=sweep.evaluated,
            skipped=sweep.skipped,
            bars=len(bars),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def _read(
        self, request: pb.RunBacktestRequest, field: str = "", runs: int = 1
    ) -> tuple[Series, BacktestConfig, Bars]:
        """The request's series, its configuration and its settled bars; INVALID_ARGUMENT (fields
        prefixed with `field`) before any reading when `runs` backtests over the range would outlast
        the time budget."""
        if not request.strategy.strip():
            raise InvalidArgument.field(f"{field}strategy", "is required; see GET /api/strategies")
        with fields_under(field):
            get_strategy(request.strategy)  # unknown strategy: INVALID_ARGUMENT before any reading
        start = parse_request_time(request.start_date, f"{field}start_date")
        end = parse_request_time(request.end_date, f"{field}end_date")
        if start is not None and end is not None and end <= start:
            raise InvalidArgument.field(f"{field}end_date", "must be after start_date")
        if start is not None and end is not None:  # refused before reading when it is plain
            check_span(current_caller(), RANGE_LIMIT, start, end)
        with fields_under(field):
            series = await asyncio.to_thread(self.windows.resolve, request.symbol, request.timeframe)
            config = BacktestConfig(
                initial_cash=request.initial_cash or 10_000.0,
                commission=request.commission,
                slippage=request.slippage,
                position_size=request.position_size if request.HasField("position_size") else 1.0,
                allow_short=request.allow_short if request.HasField("allow_short") else True,
                stop_loss=request.stop_loss or None,
                take_profit=request.take_profit or None,
                max_equity_points=request.max_equity_points or 1000,
                walk_forward_splits=request.walk_forward_splits if runs == 1 else 0,
                periods_per_year=periods_per_year_for(series.target),
            )
        rows = await asyncio.to_thread(self.windows.count_base_bars, series, start, end)
        ratio = series.target.seconds // series.base.seconds
        # The strategy's own cost counts (ml_signals runs every model over the range): a sweep of it
        # far outran an estimate of the fill kernel alone.
        expected_s = rows * READ_SECONDS_PER_ROW + estimate_seconds(
            rows // ratio, config.walk_forward_splits, request.strategy, runs
        )
        if expected_s > self.time_budget_s:
            what = "a backtest" if runs == 1 else f"{runs} backtests"
            raise InvalidArgument.field(
                f"{field}start_date",
                f"the range holds {rows} stored bars, an estimated {expected_s:.0f} s of work, over the "
                f"{self.time_budget_s:.0f} s {what} may take; shorten the range"
                + (
                    " or use a coarser timeframe"
                    if runs == 1
                    else ", use a coarser timeframe or a smaller grid"
                ),
            )
        # A resampled window has at most one bar per stored row.
        window = await asyncio.to_thread(self.windows.latest, series, max(rows, 1), start, end)
        bars = window.bars
        if len(bars) and not bars.last_complete:
            bars = bars.slice(0, len(bars) - 1)  # a bar still being built is no fill price to trade on
        if len(bars):  # the range actually covered: an empty date means the first or last stored bar
            check_span(current_caller(), RANGE_LIMIT, int(bars.times[0]), int(bars.times[-1]))
        return series, config, bars
