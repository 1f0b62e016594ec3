"""Trading signals from the TP/SL classifiers (pure): BUY, SELL or HOLD, with levels and a reason.

The rule, one function for GetSignals, the stream and the `ml_signals` backtest strategy:
- when the ensemble's classifiers did not beat their base rate on held-out folds
  (`classifier_beats_baseline` false), HOLD: a probability no better than the base rate is no edge;
- BUY when P(long TP before SL) exceeds the long base rate by at least `margin` and its edge over
  the base rate is larger than the short side's; SELL mirrored; HOLD otherwise.
The margin (SIGNAL_MARGIN, 5 percentage points by default) keeps noise around the base rate from
flipping the signal every bar. The probabilities are the calibrated ones (combine.py), and a side
must also have a positive expected value after costs (`expected_value_pct`): P x TP distance -
(1 - P) x SL distance - round-trip costs; otherwise HOLD, saying there is no edge beyond costs.
(Counting every non-TP outcome as a full stop is conservative: a trade that hits neither barrier
within the lookahead loses less.)

Levels: entry at the as-of close, take-profit and stop-loss at TAKE_PROFIT_ATR / STOP_LOSS_ATR x
ATR(14), the same barriers the classifier was trained on, so its probability is that of this trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ml_engine.predictions.domain.ensemble import HorizonEnsemble
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR

SIGNAL_MARGIN = 0.05
EXPLANATION_SIZE = 5


class Action(Enum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


@dataclass(frozen=True)
class TradeCosts:
    """Costs as fractions, like the backtest config's: commission of the traded value at entry and
    again at exit, slippage of the price at entry."""

    commission: float = 0.0
    slippage: float = 0.0

    @property
    def round_trip_pct(self) -> float:
        return (2.0 * self.commission + self.slippage) * 100.0


NO_COSTS = TradeCosts()


@dataclass(frozen=True)
class Decision:
    action: Action
    # Probability that the signalled side wins (TP before SL); 0 for HOLD.
    confidence: float
    reason: str
    # Expected value after costs of the signalled side (HOLD: of the better side), percent of entry.
    expected_value_pct: float = 0.0
    cost_pct: float = 0.0


def expected_value_pct(probability: float, atr_pct: float, costs: TradeCosts = NO_COSTS) -> float:
    """P x TP distance - (1 - P) x SL distance - round-trip costs, in percent of the entry
    (`atr_pct` is ATR / close, a fraction)."""
    scale = atr_pct * 100.0
    win, loss = TAKE_PROFIT_ATR * scale, STOP_LOSS_ATR * scale
    return probability * win - (1.0 - probability) * loss - costs.round_trip_pct


def decide(
    tp_long: float,
    tp_short: float,
    ensemble: HorizonEnsemble,
    margin: float = SIGNAL_MARGIN,
    atr_pct: float | None = None,
    costs: TradeCosts = NO_COSTS,
) -> Decision:
    """The action for the calibrated probabilities `tp_long` / `tp_short` (see the module doc).
    Without `atr_pct` (unknown) the expected-value check is left out."""
    cost = costs.round_trip_pct
    ev_long = expected_value_pct(tp_long, atr_pct, costs) if atr_pct is not None else 0.0
    ev_short = expected_value_pct(tp_short, atr_pct, costs) if atr_pct is not None else 0.0
    best_ev = max(ev_long, ev_short)
    if not ensemble.classifier_beats_baseline:
        return Decision(
            Action.HOLD,
            0.0,
            f"the {ensemble.horizon} TP/SL classifiers did not beat their base rate on held-out data, "
            "so their probabilities are no trading edge",
            best_ev,
            cost,
        )
    edge_long = tp_long - ensemble.tp_long_base_rate
    edge_short = tp_short - ensemble.tp_short_base_rate
    side: Action | None = None
    if edge_long >= margin and edge_long > edge_short:
        side = Action.BUY
    elif edge_short >= margin and edge_short > edge_long:
        side = Action.SELL
    if side is None:
        return Decision(
            Action.HOLD,
            0.0,
            f"neither side clears its base rate by {margin:.0%} (long {tp_long:.0%} vs "
            f"{ensemble.tp_long_base_rate:.0%}, "
            f"short {tp_short:.0%} vs {ensemble.tp_short_base_rate:.0%})",
            best_ev,
            cost,
        )
    buy = side is Action.BUY
    p, ev = (tp_long, ev_long) if buy else (tp_short, ev_short)
    name, base = ("long", ensemble.tp_long_base_rate) if buy else ("short", ensemble.tp_short_base_rate)
    if atr_pct is not None and ev <= 0.0:
        return Decision(
            Action.HOLD,
            0.0,
            f"no edge beyond costs: P({name} TP first) {p:.0%} gives an expected value of {ev:+.3f}% "
            f"after {cost:.3f}% round-trip costs",
            ev,
            cost,
        )
    after = f", expected value {ev:+.3f}% after {cost:.3f}% costs" if atr_pct is not None else ""
    return Decision(side, p, f"P({name} TP first) {p:.0%} vs base rate {base:.0%}{after}", ev, cost)


def position_of(action: Action) -> int:
    """The backtest position an action asks for: long, short, or flat."""
    return {Action.BUY: 1, Action.SELL: -1, Action.HOLD: 0}[action]


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: float
    # Share of the classifier's margin (log-odds); positive favours the long.
    contribution: float


@dataclass(frozen=True)
class SignalLevels:
    entry: float
    take_profit: float
    stop_loss: float
    risk_reward: float


def levels(action: Action, close: float, atr: float) -> SignalLevels:
    """Entry at the close; TP/SL at the classifier's barriers (0 for HOLD)."""
    if action is Action.HOLD:
        return SignalLevels(close, 0.0, 0.0, 0.0)
    side = 1.0 if action is Action.BUY else -1.0
    take = close + side * TAKE_PROFIT_ATR * atr
    stop = close - side * STOP_LOSS_ATR * atr
    risk = abs(close - stop)
    return SignalLevels(close, take, stop, abs(take - close) / risk if risk > 0 else 0.0)


def top_contributions(
    names: tuple[str, ...] | list[str],
    values: list[float],
    contribs: list[float],
    size: int = EXPLANATION_SIZE,
) -> tuple[Contribution, ...]:
    """The `size` largest |contribution| first (the bias term is not a feature: callers leave it out)."""
    order = sorted(range(len(contribs)), key=lambda i: abs(contribs[i]), reverse=True)[:size]
    return tuple(Contribution(names[i], values[i], contribs[i]) for i in order)


def summary(
    symbol: str, timeframe: str, decision: Decision, lv: SignalLevels, explanation: tuple[Contribution, ...]
) -> str:
    """One sentence a person can read."""
    drivers = ", ".join(c.feature for c in explanation[:3])
    because = f"; main drivers: {drivers}" if drivers else ""
    if decision.action is Action.HOLD:
        return f"HOLD {symbol} on {timeframe}: {decision.reason}{because}."
    return (
        f"{decision.action.value} {symbol} on {timeframe} at {lv.entry:.5g}, take-profit "
        f"{lv.take_profit:.5g}, "
        f"stop-loss {lv.stop_loss:.5g} (risk/reward {lv.risk_reward:.2f}): {decision.reason}{because}."
    )
