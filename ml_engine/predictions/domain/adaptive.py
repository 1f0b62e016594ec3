"""Adaptive conformal intervals from live scores (pure).

The shipped quantile `q` (domain/intervals.py) is fit once, on the last walk-forward fold's
validation rows. When the market then moves more (or less) per ATR than in that block, the interval
under- (or over-) covers until the next training. Live scores correct that drift online: every
scored prediction gives the same nonconformity score the calibration used,

    s = max((realized_high - median_high) / atr, (median_low - realized_low) / atr)

(prices: the close cancels out of the percent form), and the interval served as of a bar uses

    q_served = (1 - w) * q_shipped + w * q_window,    w = n / (n + prior_weight)

where q_window is the split-conformal quantile (rank ceil((n + 1) c)) of the latest n <= `window`
live scores, the shipped q counting as `prior_weight` scores; q_served stays within `max_shift` ATRs
of q_shipped, and below `min_scores` live scores the shipped q serves alone. This is the rolling-window
variant of adaptive conformal inference (Gibbs & Candes 2021) rather than the alpha_t recursion: it
is a pure function of the scores known at the as-of bar, so a prediction is the same whichever order
requests come in, and a restart only needs the latest scores back (the scorer reads them at start).

No lookahead: a prediction as of bar t uses only scores of predictions as of bars at or before the
L-th bar before t (L the horizon's lookahead, counted in stored bars, so weekends and holidays do not
matter): their lookahead bars all closed by the close of bar t, which is when the prediction is made.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ml_engine.predictions.domain.intervals import COVERAGES, conformal_quantile, coverage_key

# (symbol, timeframe, lookahead): the series a prediction is scored on.
SeriesKey = tuple[str, str, int]


@dataclass(frozen=True)
class AdaptiveSettings:
    enabled: bool = True
    # Latest live scores whose conformal quantile is blended in.
    window: int = 100
    # The shipped quantile counts as this many scores in the blend.
    prior_weight: float = 25.0
    # Fewer live scores than this: the shipped quantile alone.
    min_scores: int = 20
    # The served quantile stays within this many ATRs of the shipped one.
    max_shift: float = 1.5


@dataclass(frozen=True)
class Adjustment:
    """The quantile served at one coverage and how it came about."""

    q: float
    shipped_q: float
    # Live scores it was adapted with (0: the shipped quantile serves alone).
    live_scores: int = 0


def nonconformity(
    realized_high: float, realized_low: float, median_high: float, median_low: float, atr: float
) -> float:
    """The calibration's score of one scored prediction (module doc), in ATRs."""
    scale = max(atr, 1e-12)
    return max((realized_high - median_high) / scale, (median_low - realized_low) / scale)


def adapted_quantile(
    shipped_q: float, scores: np.ndarray, coverage: float, s: AdaptiveSettings
) -> Adjustment:
    """The blend of the module doc, bounded to shipped_q +- max_shift."""
    n = len(scores)
    if not s.enabled or n < max(1, s.min_scores):
        return Adjustment(shipped_q, shipped_q)
    weight = n / (n + s.prior_weight)
    q = (1.0 - weight) * shipped_q + weight * conformal_quantile(scores, coverage)
    q = min(max(q, shipped_q - s.max_shift), shipped_q + s.max_shift)
    return Adjustment(q, shipped_q, n)


def adapted_quantiles(
    shipped: dict[str, float], scores: np.ndarray, s: AdaptiveSettings
) -> dict[str, Adjustment]:
    """An Adjustment for every offered coverage the manifest has a quantile for, by coverage_key.
    Quantiles are made monotone in the coverage (a wider nominal never gets a narrower interval)."""
    result: dict[str, Adjustment] = {}
    floor = -math.inf
    for c in COVERAGES:
        key = coverage_key(c)
        if key not in shipped:
            continue
        adjustment = adapted_quantile(shipped[key], scores, c, s)
        if adjustment.q < floor:
            adjustment = Adjustment(floor, adjustment.shipped_q, adjustment.live_scores)
        floor = adjustment.q
        result[key] = adjustment
    return result


@dataclass
class _Scores:
    as_of: list[int] = field(default_factory=list)
    score: list[float] = field(default_factory=list)


class LiveScores:
    """The latest live scores per series, as the scorer records them, oldest first (thread-safe: the
    scorer writes from a worker thread while predictions read). At most `keep` per series; one per
    as-of bar (a later score of the same bar, from another model version, replaces it)."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = max(1, keep)
        self._series: dict[SeriesKey, _Scores] = {}
        self._lock = threading.Lock()

    def add(self, key: SeriesKey, scores: Iterable[tuple[int, float]]) -> None:
        """Records (as_of, score) pairs of `key`'s series."""
        with self._lock:
            series = self._series.setdefault(key, _Scores())
            for as_of, score in scores:
                if not math.isfinite(score):
                    continue
                i = bisect.bisect_left(series.as_of, as_of)
                if i < len(series.as_of) and series.as_of[i] == as_of:
                    series.score[i] = score
                    continue
                series.as_of.insert(i, as_of)
                series.score.insert(i, score)
            excess = len(series.as_of) - self.keep
            if excess > 0:
                del series.as_of[:excess], series.score[:excess]

    def known_by(self, key: SeriesKey, last_as_of: int, n: int) -> np.ndarray:
        """The latest `n` scores of predictions as of bars at or before `last_as_of`, oldest first."""
        with self._lock:
            series = self._series.get(key)
            if series is None or n <= 0:
                return np.empty(0, dtype=np.float64)
            end = bisect.bisect_right(series.as_of, last_as_of)
            return np.asarray(series.score[max(0, end - n) : end], dtype=np.float64)

    def count(self, key: SeriesKey) -> int:
        with self._lock:
            series = self._series.get(key)
            return 0 if series is None else len(series.as_of)


class AdaptiveConformal:
    """The live scores and the settings that turn them into served quantiles."""

    def __init__(self, settings: AdaptiveSettings, scores: LiveScores | None = None) -> None:
        self.settings = settings
        self.scores = scores if scores is not None else LiveScores(max(1000, 2 * settings.window))

    def adjustments(self, key: SeriesKey, shipped: dict[str, float], known_by: int) -> dict[str, Adjustment]:
        """The quantiles to serve for a prediction of `key`'s series whose latest usable score is that
        of the prediction as of bar `known_by` (the L-th bar before its as-of bar)."""
        if not self.settings.enabled:
            return {}
        live = self.scores.known_by(key, known_by, self.settings.window)
        return adapted_quantiles(shipped, live, self.settings)
