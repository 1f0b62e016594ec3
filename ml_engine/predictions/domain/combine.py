"""Combine an ensemble's member outputs into one prediction per output column (pure).

The manifest (`ensemble.py`) lists, per output column, the members and their validation weights.
A member is a model (its column of the model's output) or the ATR baseline, whose values come from
the manifest's coefficients and the as-of `atr_pct` feature. Members of weight 0 (listed to say why
they are left out) are not run at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ml_engine.predictions.domain.adaptive import Adjustment
from ml_engine.predictions.domain.calibration import calibrate
from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER, HorizonEnsemble, Member
from ml_engine.predictions.domain.horizons import Horizon
from ml_engine.predictions.domain.intervals import (
    COVERAGES,
    DEFAULT_COVERAGE,
    Interval,
    coverage_key,
    interval_pct,
)
from ml_engine.predictions.domain.model_metadata import OUTPUT_COLUMNS

RANGE_COLUMNS = ("range_high_pct", "range_low_pct")
# What a member predicts, as ModelUse.target says it.
TARGET_OF_COLUMN = {
    "range_high_pct": "range_high",
    "range_low_pct": "range_low",
    "tp_long": "tp_long",
    "tp_short": "tp_short",
}


def active_members(ensemble: HorizonEnsemble, column: str) -> list[Member]:
    """Members of `column` with a positive weight."""
    return [m for m in ensemble.members.get(column, []) if m.weight > 0]


def models_to_run(ensemble: HorizonEnsemble, columns: Sequence[str] = OUTPUT_COLUMNS) -> list[str]:
    """Model names (baseline excluded) any of `columns` needs, each once, in manifest order."""
    names: list[str] = []
    for column in columns:
        for member in active_members(ensemble, column):
            if member.model != BASELINE_MEMBER and member.model not in names:
                names.append(member.model)
    return names


def baseline_outputs(ensemble: HorizonEnsemble, atr_pct: float) -> dict[str, float]:
    """The naive baseline's value of each column: an ATR-scaled range and the TP base rates.

    `atr_pct` is the feature (ATR / close, a fraction); range columns are in percent.
    """
    return {
        "range_high_pct": ensemble.baseline_high_coef * atr_pct * 100.0,
        "range_low_pct": ensemble.baseline_low_coef * atr_pct * 100.0,
        "tp_long": ensemble.tp_long_base_rate,
        "tp_short": ensemble.tp_short_base_rate,
    }


def combine_column(
    members: list[Member],
    model_values: Mapping[tuple[str, str], float],
    baseline: Mapping[str, float],
    column: str,
) -> float:
    """Weighted mean of the members' values of `column`.

    `model_values[(model, column)]` holds each model's output. Weights are renormalized over the
    active members (they sum to 1 in a manifest, but a rounding drift must not bias the range).
    No active member at all: the baseline alone.
    """
    total = sum(m.weight for m in members)
    if not members or total <= 0:
        return float(baseline[column])
    acc = 0.0
    for m in members:
        value = baseline[column] if m.model == BASELINE_MEMBER else model_values[(m.model, column)]
        acc += m.weight * float(value)
    return acc / total


def range_source(ensemble: HorizonEnsemble) -> str:
    """ "models" when a model carries weight in a range column, "baseline" when only the baseline does."""
    for column in RANGE_COLUMNS:
        if any(m.model != BASELINE_MEMBER for m in active_members(ensemble, column)):
            return "models"
    return "baseline"


@dataclass(frozen=True)
class CombinedOutputs:
    # The median range (each extreme's median estimate).
    range_high_pct: float
    range_low_pct: float
    # Calibrated probabilities (the manifest's Platt map; unchanged for a manifest without one).
    tp_long: float
    tp_short: float
    # The conformal interval at every offered coverage (none for a manifest without quantiles).
    intervals: tuple[Interval, ...] = ()


def range_intervals(
    ensemble: HorizonEnsemble,
    median_high_pct: float,
    median_low_pct: float,
    atr_pct: float,
    adjustments: Mapping[str, Adjustment] | None = None,
) -> tuple[Interval, ...]:
    """The calibrated interval at each offered coverage, with its held-out coverage and the ATR
    baseline's width at the same coverage for this bar. `adjustments` (by coverage key) replace the
    shipped quantiles with adapted ones (domain/adaptive.py)."""
    if not math.isfinite(atr_pct):
        return ()
    result = []
    base_span = ensemble.baseline_high_coef - ensemble.baseline_low_coef
    for c in COVERAGES:
        key = coverage_key(c)
        shipped = ensemble.interval_quantiles.get(key)
        if shipped is None:
            continue
        adjustment = (adjustments or {}).get(key) or Adjustment(shipped, shipped)
        upper, lower = interval_pct(median_high_pct, median_low_pct, atr_pct, adjustment.q)
        q_base = ensemble.baseline_interval_quantiles.get(key)
        base_width = (base_span + 2.0 * q_base) * atr_pct * 100.0 if q_base is not None else 0.0
        heldout = ensemble.heldout_metrics.get(f"interval_coverage_{key}", 0.0)
        result.append(
            Interval(c, upper, lower, heldout, base_width, adjustment.q, shipped, adjustment.live_scores)
        )
    return tuple(result)


def pick_interval(intervals: Sequence[Interval], coverage: float = DEFAULT_COVERAGE) -> Interval | None:
    return next((i for i in intervals if math.isclose(i.coverage, coverage)), None)


def calibrated_tp(ensemble: HorizonEnsemble, column: str, p: float) -> float:
    """A combined TP probability through the manifest's calibration map of `column`."""
    return _probability(calibrate(p, ensemble.tp_calibration.get(column)))


def combine(
    ensemble: HorizonEnsemble,
    model_values: Mapping[tuple[str, str], float],
    atr_pct: float,
    adjustments: Mapping[str, Adjustment] | None = None,
) -> CombinedOutputs:
    """Every column combined. The range is kept ordered (low <= high) and probabilities in [0, 1];
    the intervals use `adjustments` where given (adapted quantiles by coverage key)."""
    baseline = baseline_outputs(ensemble, atr_pct)
    values = {
        c: combine_column(active_members(ensemble, c), model_values, baseline, c) for c in OUTPUT_COLUMNS
    }
    high, low = values["range_high_pct"], values["range_low_pct"]
    if low > high:  # independent high and low models can cross; the range is then their span
        high, low = low, high
    return CombinedOutputs(
        high,
        low,
        calibrated_tp(ensemble, "tp_long", _probability(values["tp_long"])),
        calibrated_tp(ensemble, "tp_short", _probability(values["tp_short"])),
        range_intervals(ensemble, high, low, atr_pct, adjustments),
    )


def _probability(value: float) -> float:
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0


@dataclass(frozen=True)
class ModelUse:
    """One member of a served prediction (a model's column, or the baseline)."""

    name: str
    version: str
    target: str
    weight: float
    provider: str = ""


@dataclass(frozen=True)
class HorizonForecast:
    """The combined prediction of one horizon as of one complete bar."""

    symbol: str
    horizon: Horizon
    # Open time of the as-of bar (epoch seconds, UTC) and its close.
    as_of: int
    close: float
    atr: float
    predicted_high: float
    predicted_low: float
    predicted_high_pct: float
    predicted_low_pct: float
    tp_long: float
    tp_short: float
    models: tuple[ModelUse, ...]
    inference_ms: float
    range_source: str
    prediction_id: str
    # The as-of bar's feature row (FEATURE_NAMES order): explanations read it.
    features: tuple[float, ...]
    # Calibrated intervals (percent of the close) at every offered coverage; see domain/intervals.py.
    intervals: tuple[Interval, ...] = ()

    def interval(self, coverage: float = DEFAULT_COVERAGE) -> Interval | None:
        return pick_interval(self.intervals, coverage)


def prices_from_pct(close: float, high_pct: float, low_pct: float) -> tuple[float, float]:
    return close * (1.0 + high_pct / 100.0), close * (1.0 + low_pct / 100.0)
