"""Active vs shadow on the same scored predictions: losses per metric, the Diebold-Mariano test on
each, a verdict per metric and one overall, and whether an automatic promotion may fire."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ml_engine.promotion.domain.diebold_mariano import diebold_mariano


class Verdict(Enum):
    NOT_ENOUGH_DATA = "not_enough_data"
    NO_DIFFERENCE = "no_significant_difference"
    SHADOW_BETTER = "shadow_better"
    SHADOW_WORSE = "shadow_worse"


@dataclass(frozen=True)
class ScoredPair:
    """One prediction (symbol, horizon, as-of bar) made by the active ensemble and by the ensemble
    with the shadow version substituted, both scored against the same realised bars."""

    as_of: int
    close: float
    realized_high: float
    realized_low: float
    tp_long_outcome: float
    tp_short_outcome: float
    active: tuple[float, float, float, float]  # predicted high, low, TP long, TP short
    shadow: tuple[float, float, float, float]


def range_mae_pct(predicted: tuple[float, float, float, float], pair: ScoredPair) -> float:
    """The live scores' MAE: mean of |high error| and |low error| in percent of the as-of close."""
    high, low = predicted[0], predicted[1]
    return (abs(high - pair.realized_high) + abs(low - pair.realized_low)) / (2 * pair.close) * 100.0


def tp_long_brier(predicted: tuple[float, float, float, float], pair: ScoredPair) -> float:
    return (predicted[2] - pair.tp_long_outcome) ** 2


def tp_short_brier(predicted: tuple[float, float, float, float], pair: ScoredPair) -> float:
    return (predicted[3] - pair.tp_short_outcome) ** 2


# Loss functions by metric name (lower is better), in the order the comparison lists them.
METRICS = {
    "range_mae_pct": range_mae_pct,
    "tp_long_brier": tp_long_brier,
    "tp_short_brier": tp_short_brier,
}


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    n: int
    mean_loss_active: float
    mean_loss_shadow: float
    dm_statistic: float
    p_value: float
    verdict: Verdict


@dataclass(frozen=True)
class Comparison:
    metrics: tuple[MetricComparison, ...]
    verdict: Verdict
    # Why the overall verdict is what it is, for a person.
    summary: str


def compare_metric(
    metric: str, pairs: Sequence[ScoredPair], horizon: int, alpha: float, min_scored: int
) -> MetricComparison:
    loss = METRICS[metric]
    ordered = sorted(pairs, key=lambda p: p.as_of)
    active = [loss(p.active, p) for p in ordered]
    shadow = [loss(p.shadow, p) for p in ordered]
    result = diebold_mariano(active, shadow, horizon)
    n = len(ordered)
    mean_a = sum(active) / n if n else 0.0
    mean_s = sum(shadow) / n if n else 0.0
    if n < min_scored or math.isnan(result.statistic):
        verdict = Verdict.NOT_ENOUGH_DATA
    elif result.p_value < alpha:
        verdict = Verdict.SHADOW_BETTER if result.statistic > 0 else Verdict.SHADOW_WORSE
    else:
        verdict = Verdict.NO_DIFFERENCE
    return MetricComparison(metric, n, mean_a, mean_s, result.statistic, result.p_value, verdict)


def compare(pairs: Sequence[ScoredPair], horizon: int, alpha: float, min_scored: int) -> Comparison:
    """Every metric compared; overall: worse if any metric is significantly worse, better if at
    least one is significantly better and none worse, not enough data while any metric lacks pairs."""
    metrics = tuple(compare_metric(m, pairs, horizon, alpha, min_scored) for m in METRICS)
    verdicts = {m.verdict for m in metrics}
    n = len(pairs)
    if Verdict.NOT_ENOUGH_DATA in verdicts:
        overall = Verdict.NOT_ENOUGH_DATA
        text = f"{n} scored pairs; at least {max(min_scored, 1)} (and 2 x the lookahead) are needed"
    elif Verdict.SHADOW_WORSE in verdicts:
        overall = Verdict.SHADOW_WORSE
        worse = ", ".join(m.metric for m in metrics if m.verdict is Verdict.SHADOW_WORSE)
        text = f"the shadow is significantly worse on {worse} (p < {alpha})"
    elif Verdict.SHADOW_BETTER in verdicts:
        overall = Verdict.SHADOW_BETTER
        better = ", ".join(m.metric for m in metrics if m.verdict is Verdict.SHADOW_BETTER)
        text = f"the shadow is significantly better on {better} (p < {alpha}) and worse on none"
    else:
        overall = Verdict.NO_DIFFERENCE
        text = f"no metric differs significantly (p >= {alpha}) over {n} scored pairs"
    return Comparison(metrics, overall, text)


def should_auto_promote(comparison: Comparison) -> bool:
    """Automatic promotion fires only on an overall SHADOW_BETTER (enough pairs, none worse)."""
    return comparison.verdict is Verdict.SHADOW_BETTER
