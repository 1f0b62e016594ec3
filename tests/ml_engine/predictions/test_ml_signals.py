"""The ml_signals backtest strategy: refused on ranges the models were trained on; afterwards it
trades the same decision as GetSignals, computed walk-forward (a prefix of the bars gives the same
positions as the whole range)."""

from __future__ import annotations

import numpy as np
import pytest
from backtesting.test import EURUSD

from ml_engine.backtests.domain import BacktestConfig, get_strategy, list_strategies, run_backtest
from ml_engine.backtests.domain.strategies.ml_signals import NAME
from ml_engine.market_data.domain.bars import Bars
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.predictions.domain.features import FEATURE_NAMES, compute_features
from ml_engine.predictions.domain.signals import decide, position_of
from ml_engine.predictions.ml_signals_models import ml_signal_models, register_ml_signals
from service_runtime.errors import FailedPrecondition
from tests.ml_engine.frames import bars_from_frame
from tests.ml_engine.predictions.support import manifest

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
