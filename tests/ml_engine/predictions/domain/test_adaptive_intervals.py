"""Adaptive conformal quantiles from live scores: the blend, its bounds, and no lookahead."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.config import MlEngineSettings
from ml_engine.predictions.domain.adaptive import (
    AdaptiveConformal,
    AdaptiveSettings,
    LiveScores,
    adapted_quantile,
    adapted_quantiles,
    nonconformity,
)
from ml_engine.predictions.domain.intervals import conformal_quantile

KEY = ("EURUSD", "1h", 8)
SHIPPED = {"0.5": 0.8, "0.8": 1.9, "0.9": 2.9, "0.95": 3.5}


def test_defaults_are_the_settings_defaults() -> None:
    s = MlEngineSettings(_env_file=None)  # type: ignore[call-arg]
    assert AdaptiveSettings() == AdaptiveSettings(
        s.ml_adaptive_conformal,
        s.ml_adaptive_window,
        s.ml_adaptive_prior_weight,
        s.ml_adaptive_min_scores,
        s.ml_adaptive_max_shift,
    )


def test_nonconformity_is_the_calibration_score_in_atrs() -> None:
    # High 0.3 beyond the median high, low 0.1 below the median low, ATR 0.2: max(1.5, 0.5).
    assert nonconformity(10.3, 8.9, 10.0, 9.0, 0.2) == pytest.approx(1.5)
    # Both inside the median range: negative.
    assert nonconformity(9.9, 9.1, 10.0, 9.0, 0.2) == pytest.approx(-0.5)


def test_blend_weights_the_live_quantile_by_how_many_scores() -> None:
    scores = np.linspace(0.0, 4.0, 100)
    s = AdaptiveSettings(window=100, prior_weight=25.0, min_scores=20, max_shift=10.0)
    adjusted = adapted_quantile(1.9, scores, 0.8, s)
    live = conformal_quantile(scores, 0.8)
    assert adjusted.q == pytest.approx(0.2 * 1.9 + 0.8 * live)
    assert (adjusted.shipped_q, adjusted.live_scores) == (1.9, 100)


def test_too_few_scores_or_off_serves_the_shipped_quantile() -> None:
    scores = np.full(19, 5.0)
    assert adapted_quantile(1.9, scores, 0.8, AdaptiveSettings(min_scores=20)).q == 1.9
    assert adapted_quantile(1.9, scores, 0.8, AdaptiveSettings(min_scores=20)).live_scores == 0
    off = AdaptiveSettings(enabled=False, min_scores=1)
    assert adapted_quantile(1.9, np.full(50, 5.0), 0.8, off).q == 1.9


def test_the_served_quantile_stays_within_max_shift() -> None:
    s = AdaptiveSettings(prior_weight=0.0, min_scores=1, max_shift=1.5)
    assert adapted_quantile(1.9, np.full(50, 100.0), 0.8, s).q == pytest.approx(3.4)
    assert adapted_quantile(1.9, np.full(50, -100.0), 0.8, s).q == pytest.approx(0.4)


def test_quantiles_never_narrow_as_the_coverage_grows() -> None:
    s = AdaptiveSettings(prior_weight=0.0, min_scores=1, max_shift=1.0)
    # Live scores all 1.0: the 0.5 quantile rises by 0.2 to 1.0 and the 0.8 one falls by 0.9 to 1.0.
    result = adapted_quantiles({"0.5": 0.8, "0.8": 1.9}, np.full(50, 1.0), s)
    assert result["0.5"].q == pytest.approx(1.0) and result["0.8"].q >= result["0.5"].q
    qs = [a.q for a in adapted_quantiles(SHIPPED, np.random.default_rng(1).normal(0, 3, 80), s).values()]
    assert qs == sorted(qs)


def test_live_scores_known_by_a_bar_exclude_later_predictions() -> None:
    """No lookahead: what a prediction reads ends at the bar it is asked for, whatever was recorded later."""
    live = LiveScores(keep=1000)
    live.add(KEY, [(t, float(t)) for t in range(0, 100)])
    assert list(live.known_by(KEY, 49, 10)) == [float(t) for t in range(40, 50)]
    assert list(live.known_by(KEY, 49, 1000)) == [float(t) for t in range(50)]
    assert len(live.known_by(KEY, -1, 10)) == 0
    assert len(live.known_by(("GOOG", "1d", 5), 49, 10)) == 0


def test_live_scores_keep_one_per_bar_and_a_bounded_number() -> None:
    live = LiveScores(keep=5)
    live.add(KEY, [(3, 1.0), (1, 2.0), (2, float("nan"))])
    live.add(KEY, [(3, 7.0)])  # the same bar again (another model version): replaced
    assert list(live.known_by(KEY, 10, 10)) == [2.0, 7.0]
    live.add(KEY, [(t, 0.0) for t in range(10, 20)])
    assert live.count(KEY) == 5
    assert list(live.known_by(KEY, 3, 10)) == []


def test_adaptive_conformal_reads_only_scores_known_at_the_cut_off() -> None:
    adaptive = AdaptiveConformal(AdaptiveSettings(prior_weight=0.0, min_scores=5, max_shift=5.0))
    adaptive.scores.add(KEY, [(t, 0.5) for t in range(10)])
    before = adaptive.adjustments(KEY, SHIPPED, known_by=9)
    # Huge scores of predictions after the cut-off change nothing.
    adaptive.scores.add(KEY, [(t, 50.0) for t in range(10, 40)])
    assert adaptive.adjustments(KEY, SHIPPED, known_by=9) == before
    assert before["0.8"].q == pytest.approx(0.5) and before["0.8"].live_scores == 10
    assert adaptive.adjustments(KEY, SHIPPED, known_by=39)["0.8"].q == pytest.approx(1.9 + 5.0)
    assert AdaptiveConformal(AdaptiveSettings(enabled=False)).adjustments(KEY, SHIPPED, 39) == {}
