"""Trading signals from the TP/SL classifiers (pure): BUY, SELL or HOLD, with levels and a reason.

The rule, one function for GetSignals, the stream and the `ml_signals` backtest strategy:
- when the ensemble's classifiers did not beat their base rate on held-out folds
  (`classifier_beats_baseline` false), HOLD: a probability no better than the base rate is no edge;
- BUY when P(long TP before SL) exceeds the long base rate by at least `margin` and its edge over
  the base rate is larger than the short side's; SELL mirrored; HOLD otherwise.
The margin (SIGNAL_MARGIN, 5 percentage points by default) keeps noise around the base rate from
flipping the signal every bar.

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
class Decision:
    action: Action
    # Probability that the signalled side wins (TP before SL); 0 for HOLD.
    confidence: float
    reason: str


def decide(
    tp_long: float, tp_short: float, ensemble: HorizonEnsemble, margin: float = SIGNAL_MARGIN
) -> Decision:
    """The action for the classifier probabilities `tp_long` / `tp_short` (see the module doc)."""
    if not ensemble.classifier_beats_baseline:
        return Decision(
            Action.HOLD,
            0.0,
            f"the {ensemble.horizon} TP/SL classifiers did not beat their base rate on held-out data, "
            "so their probabilities are no trading edge",
        )
    edge_long = tp_long - ensemble.tp_long_base_rate
    edge_short = tp_short - ensemble.tp_short_base_rate
    if edge_long >= margin and edge_long > edge_short:
        return Decision(
            Action.BUY,
            tp_long,
            f"P(long TP first) {tp_long:.0%} vs base rate {ensemble.tp_long_base_rate:.0%}",
        )
    if edge_short >= margin and edge_short > edge_long:
        return Decision(
            Action.SELL,
            tp_short,
            f"P(short TP first) {tp_short:.0%} vs base rate {ensemble.tp_short_base_rate:.0%}",
        )
    return Decision(
        Action.HOLD,
        0.0,
        f"neither side clears its base rate by {margin:.0%} (long {tp_long:.0%} vs "
        f"{ensemble.tp_long_base_rate:.0%}, "
        f"short {tp_short:.0%} vs {ensemble.tp_short_base_rate:.0%})",
    )


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
