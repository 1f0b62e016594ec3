"""ml_signals: trade the TP/SL classifiers' signals, computed walk-forward, never on training data.

The position at bar i is `signals.decide` (the very function GetSignals and the stream use) applied
to the ensemble's TP probabilities from the features of bars 0..i: `compute_features` reads no bar
after the row it fills, and each model input is the row (or the window ending at it), so computing
every row in one pass is the same as recomputing bar by bar, only faster. BUY is long, SELL short,
HOLD flat. The domain stays free of I/O: the models arrive as a `TpPredictor` built at wiring time.

A backtest must start after the data the models saw: training used bars up to `training.end`, whose
labels read `lookahead` bars further, so any range starting earlier is refused (FAILED_PRECONDITION).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ml_engine.backtests.domain.strategies.base import (
    ParamSpec,
    PositionArray,
    StrategyCost,
    StrategyDefinition,
    StrategyParams,
    StrategySpec,
)
from ml_engine.market_data.domain.bars import Bars, FloatArray
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.domain.times import format_time
from ml_engine.predictions.domain.ensemble import HorizonEnsemble
from ml_engine.predictions.domain.features import FEATURE_NAMES, FEATURE_WARMUP, compute_features
from ml_engine.predictions.domain.horizons import HORIZONS, Horizon
from ml_engine.predictions.domain.signals import SIGNAL_MARGIN, TradeCosts, decide, position_of
from service_runtime.errors import DependencyUnavailable, DomainError, FailedPrecondition, InvalidArgument

NAME = "ml_signals"
ATR_PCT = FEATURE_NAMES.index("atr_pct")
# features [n, F] -> (tp_long [n], tp_short [n]); NaN where a row has no model input.
TpPredictor = Callable[[FloatArray], tuple[FloatArray, FloatArray]]
# Seconds per bar, for the time budget: loose upper estimates, like the fill kernel's. Measured on 3,000
# EURUSD hourly bars, 2 shared cores: 1.2-1.7e-4 for the features and every TP model (once per range),
# 0.8-1.6e-5 per run for the decisions bar by bar (a 10-set sweep took 0.6-1.0 s).
COST = StrategyCost(per_run=4e-5, per_range=2.5e-4)


@dataclass(frozen=True)
class _Probabilities:
    """What the decisions read at each bar of one range: the same for every set of a sweep."""

    bars: weakref.ref[Bars]
    predict: TpPredictor
    tp_long: FloatArray
    tp_short: FloatArray
    atr_pct: FloatArray


@dataclass(frozen=True)
class MlSignalModel:
    horizon: Horizon
    ensemble: HorizonEnsemble
    # Open time (epoch s) of the last bar the models were fit on (latest over the models used).
    trained_until: int
    # Longest window of bars a model reads (1 for tabular models).
    window: int
    predict: TpPredictor

    @property
    def first_bar(self) -> int:
        """First bar whose features are past the warm-up for every model."""
        return FEATURE_WARMUP + self.window - 1


SPEC = StrategySpec(
    name=NAME,
    description=(
        "Trades the ML engine's signals on 1h (intraday models), 4h (swing) or 1d (position) bars: long on "
        "BUY, "
        "short (or flat when shorting is off) on SELL, flat on HOLD. A signal is BUY when the ensemble's "
        "probability that a long take-profit (1.5 ATR) is hit before its stop-loss (1 ATR) beats the long "
        "base "
        "rate by at least `margin` and by more than the short side does; SELL mirrored; always HOLD when the "
        "classifiers did not beat their base rate on held-out data, and HOLD when the trade's expected value "
        "after the backtest's commission and slippage is not positive. Computed walk-forward from the bars "
        "up to each bar; the range must start after the models' training data."
    ),
    params=(
        ParamSpec(
            "margin",
            "float",
            SIGNAL_MARGIN,
            0.0,
            0.5,
            "How far a TP probability must exceed its base rate to trade (probability points).",
        ),
    ),
)


def bar_seconds(bars: Bars) -> int:
    """The bars' timeframe: their smallest spacing (gaps such as weekends only make spacing larger)."""
    if len(bars) < 2:
        return 0
    return int(np.min(np.diff(bars.times)))


def check_after_training(model: MlSignalModel, first_time: int, seconds: int) -> None:
    """FAILED_PRECONDITION unless the range starts after every bar the models' training read."""
    seen_until = model.trained_until + model.horizon.lookahead * seconds
    if first_time <= seen_until:
        seen = format_time(seen_until)
        raise FailedPrecondition(
            f"the {model.horizon.name} models were trained on data up to {seen} (training end plus "
            f"the {model.horizon.lookahead}-bar lookahead); start the backtest after {seen}"
        )


def ml_signals_definition(current_models: Callable[[], Mapping[str, MlSignalModel]]) -> StrategyDefinition:
    """The strategy over the models `current_models()` gives (by horizon name), asked at every run so
    a model version activated since (another training end) is what the check reads."""
    by_seconds = {_seconds(h): h for h in HORIZONS.values()}

    def model_for(bars: Bars) -> tuple[MlSignalModel, int]:
        models = current_models()
        seconds = bar_seconds(bars)
        horizon = by_seconds.get(seconds)
        if horizon is None:
            served = ", ".join(f"{m.horizon.timeframe} ({name})" for name, m in models.items())
            raise InvalidArgument.field("timeframe", f"{NAME} trades bars of {served or 'no timeframe yet'}")
        model = models.get(horizon.name)
        if model is None:
            raise DependencyUnavailable(
                f"no model is trained for the {horizon.name} horizon ({horizon.timeframe} bars)"
            )
        return model, seconds

    # The last range's probabilities, per thread (a sweep runs its sets one after the other in one
    # worker thread): the features and every model's run do not depend on `margin`, so a sweep
    # computes them once. Keyed by the Bars object itself (each request reads its own) and the
    # predictor.
    last = threading.local()

    def probabilities(bars: Bars, model: MlSignalModel) -> _Probabilities:
        cached: _Probabilities | None = getattr(last, "value", None)
        if cached is not None and cached.bars() is bars and cached.predict is model.predict:
            return cached
        features = compute_features(bars)
        tp_long, tp_short = model.predict(features)
        computed = _Probabilities(weakref.ref(bars), model.predict, tp_long, tp_short, features[:, ATR_PCT])
        last.value = computed
        return computed

    def positions(bars: Bars, params: StrategyParams) -> PositionArray:
        out = np.zeros(len(bars), dtype=np.int8)
        if len(bars) < 2:
            return out
        model, seconds = model_for(bars)
        check_after_training(model, int(bars.times[0]), seconds)
        computed = probabilities(bars, model)
        tp_long, tp_short, atr_pct = computed.tp_long, computed.tp_short, computed.atr_pct
        margin = float(params["margin"])
        # The backtest config's costs (the engine passes them: reads_costs): no trade without an edge
        # beyond them.
        costs = TradeCosts(float(params.get("commission", 0.0)), float(params.get("slippage", 0.0)))
        for i in range(model.first_bar, len(bars)):
            if np.isfinite(tp_long[i]) and np.isfinite(tp_short[i]):
                atr = float(atr_pct[i]) if np.isfinite(atr_pct[i]) else None
                decision = decide(float(tp_long[i]), float(tp_short[i]), model.ensemble, margin, atr, costs)
                out[i] = position_of(decision.action)
        return out

    def first_signal_bar(_: StrategyParams) -> int:
        try:
            models = current_models()
        except DomainError:  # a model not loaded: positions() reports it; the warm-up is the floor here
            return FEATURE_WARMUP
        return max((m.first_bar for m in models.values()), default=FEATURE_WARMUP)

    return StrategyDefinition(SPEC, positions, first_signal_bar, reads_costs=True, cost=COST)


def _seconds(horizon: Horizon) -> int:
    return TIMEFRAMES[horizon.timeframe].seconds
