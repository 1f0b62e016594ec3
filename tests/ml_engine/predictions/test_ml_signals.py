"""The ml_signals backtest strategy: refused on ranges the models were trained on; afterwards it
trades the same decision as GetSignals, computed walk-forward (a prefix of the bars gives the same
positions as the whole range). A sweep runs the models once; the time budget counts them."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from backtesting.test import EURUSD

from ml_engine.backtests.domain import (
    BacktestConfig,
    estimate_seconds,
    get_strategy,
    list_strategies,
    register_strategy,
    run_backtest,
)
from ml_engine.backtests.domain.strategies.ml_signals import NAME, TpPredictor, ml_signals_definition
from ml_engine.backtests.domain.sweep import parameter_sets, run_sweep
from ml_engine.backtests.handlers import BacktestHandlers
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.domain.bars import Bars, FloatArray
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.domain.features import FEATURE_NAMES, compute_features
from ml_engine.predictions.domain.signals import decide, position_of
from ml_engine.predictions.ml_signals_models import ml_signal_models, register_ml_signals, tp_predictor
from ml_engine.shared.database import MarketStore
from service_runtime.errors import FailedPrecondition
from tests.ml_engine.backtests.test_handlers import call, sweep
from tests.ml_engine.frames import bars_from_frame
from tests.ml_engine.predictions.support import manifest
from tests.support.in_process import TestCallers, violations
from trading.market.v1 import backtest_service_pb2 as pb

WEEK = 7 * 86400


def after_training(bars: Bars, not_before: int) -> Bars:
    """The real EURUSD bars moved whole weeks later so they start after `not_before` (synthetic
    timestamps, real prices: hours and weekdays keep their meaning)."""
    shift = -(-(not_before - int(bars.times[0]) + 1) // WEEK) * WEEK
    return Bars.from_columns(bars.times + shift, bars.open, bars.high, bars.low, bars.close, bars.volume)


async def test_refuses_training_data_and_trades_after_it(registry: ModelRegistry) -> None:
    register_ml_signals(registry, manifest())
    assert NAME in [s.name for s in list_strategies()]
    model = ml_signal_models(registry, manifest())["intraday"]
    seen_until = model.trained_until + model.horizon.lookahead * 3600
    real = bars_from_frame(EURUSD)
    config = BacktestConfig(periods_per_year=252 * 24)

    with pytest.raises(FailedPrecondition) as refused:
        run_backtest(real, NAME, {}, config)
    assert "start the backtest after" in refused.value.message

    # The sample's last weeks were held out of training: the strategy runs on them as they are.
    tail = real.slice(int(np.searchsorted(real.times, seen_until, side="right")))
    assert len(tail) > model.first_bar + 2
    assert run_backtest(tail, NAME, {}, config).metrics.bars == len(tail)

    bars = after_training(real.slice(0, 1500), seen_until)
    assert int(bars.times[0]) > seen_until
    result = run_backtest(bars, NAME, {}, config)
    assert result.metrics.bars == len(bars)

    definition = get_strategy(NAME)
    params = definition.resolve_params({})
    positions = definition.positions(bars, params)
    # Walk-forward: the positions of a prefix are the whole range's, bar by bar.
    for k in (model.first_bar + 5, 700, 1200):
        np.testing.assert_array_equal(definition.positions(bars.slice(0, k), params), positions[:k])
    # The same decision function as GetSignals, on the ensemble's probabilities at each bar.
    features = compute_features(bars)
    tp_long, tp_short = model.predict(features)
    atr_pct = features[:, FEATURE_NAMES.index("atr_pct")]
    expected = [
        position_of(
            decide(float(tp_long[i]), float(tp_short[i]), model.ensemble, atr_pct=float(atr_pct[i])).action
        )
        for i in range(model.first_bar, len(bars))
    ]
    assert positions[model.first_bar :].tolist() == expected
    # The backtest's costs reach the decision: trades need an edge beyond them, so costs only remove trades.
    costly = definition.positions(bars, {**params, "commission": 0.002, "slippage": 0.002})
    assert np.count_nonzero(costly) <= np.count_nonzero(positions)
    assert all(c == p for c, p in zip(costly.tolist(), positions.tolist(), strict=True) if c != 0)
    assert not positions[: model.first_bar].any()
    if not model.ensemble.classifier_beats_baseline:
        assert result.metrics.trades == 0  # the classifiers earned no trust: always HOLD


def copy_of(bars: Bars) -> Bars:
    return Bars.from_columns(
        bars.times.copy(),
        bars.open.copy(),
        bars.high.copy(),
        bars.low.copy(),
        bars.close.copy(),
        bars.volume.copy(),
    )


async def test_a_sweep_runs_the_models_once_for_all_its_sets(registry: ModelRegistry) -> None:
    """The features and the models' probabilities do not depend on `margin`: a sweep computed them
    again for every set (10 sets on 3,000 bars took 6 s against an estimate of 0.05 s)."""
    ensembles = manifest()
    calls: list[int] = []

    def counting(predict: TpPredictor) -> TpPredictor:
        def counted(features: FloatArray) -> tuple[FloatArray, FloatArray]:
            calls.append(len(features))
            return predict(features)

        return counted

    predictors = {name: counting(tp_predictor(registry, e)) for name, e in ensembles.items()}
    register_strategy(
        ml_signals_definition(lambda: ml_signal_models(registry, ensembles, predictors)), replace=True
    )
    try:
        model = ml_signal_models(registry, ensembles)["intraday"]
        bars = after_training(
            bars_from_frame(EURUSD).slice(0, 1500), model.trained_until + model.horizon.lookahead * 3600
        )
        config = BacktestConfig(periods_per_year=252 * 24)
        sets = parameter_sets(NAME, {"margin": [0.0, 0.02, 0.05, 0.1, 0.2]}, {})
        result = run_sweep(bars, NAME, sets, config)
        assert result.evaluated == 5 and calls == [1500]
        for run in result.runs:  # each set as its own backtest over its own copy of the bars
            assert run_backtest(copy_of(bars), NAME, run.params, config).metrics == run.metrics
        assert len(calls) == 6
    finally:
        register_ml_signals(registry, ensembles)


async def test_the_time_budget_counts_the_models(
    market_store: MarketStore, registry: ModelRegistry, callers: TestCallers
) -> None:
    """ml_signals computes features and runs every model over the range: the estimate the budget is
    checked against counts it, and a request over budget is refused before any bar is read."""
    register_ml_signals(registry, manifest())
    assert estimate_seconds(3000, 0, NAME) > 10 * estimate_seconds(3000, 0, "sma_cross")
    # The models run once per range, the decisions once per set.
    assert estimate_seconds(3000, 0, NAME, runs=10) < 10 * estimate_seconds(3000, 0, NAME)
    import_sample(market_store.engine, "EURUSD")  # 5,000 hourly bars
    handlers = BacktestHandlers(BarWindows(market_store.engine), time_budget_s=1.0)
    backtest = pb.RunBacktestRequest(strategy=NAME, symbol="EURUSD")
    with pytest.raises(grpc.aio.AioRpcError) as single:
        await call(handlers, callers, "RunBacktest", backtest)
    assert single.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(single.value)[0][0] == "start_date"
    grid = [pb.ParameterValues(name="margin", values=[0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5])]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await sweep(handlers, callers, backtest=backtest, grid=grid)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    field, description = violations(refused.value)[0]
    assert field == "backtest.start_date" and "10 backtests" in description
