"""The Diebold-Mariano test against hand computations (see each test's working), and the
comparison verdicts built on it."""

from __future__ import annotations

import math

import pytest

from ml_engine.promotion.domain.comparison import ScoredPair, Verdict, compare, should_auto_promote
from ml_engine.promotion.domain.diebold_mariano import (
    diebold_mariano,
    long_run_variance,
    minimum_pairs,
    student_t_two_sided_p,
)


def test_trend_with_h2_matches_the_hand_computation() -> None:
    # d = 1..6, mean 3.5; deviations -2.5..2.5: gamma0 = 17.5/6, gamma1 = 8.75/6,
    # V = gamma0 + 2 gamma1 = 35/6; DM = 3.5 / sqrt(V/6) = 21/sqrt(35);
    # HLN factor sqrt((6 + 1 - 4 + 2/6)/6) = sqrt(5)/3, so DM* = sqrt(7); t with 5 df.
    shadow = [0.0] * 6
    result = diebold_mariano([1, 2, 3, 4, 5, 6], shadow, horizon=2)
    assert long_run_variance([1, 2, 3, 4, 5, 6], 2) == pytest.approx(35 / 6)
    assert (result.n, result.mean_difference) == (6, 3.5)
    assert result.statistic == pytest.approx(math.sqrt(7))
    assert result.p_value == pytest.approx(student_t_two_sided_p(math.sqrt(7), 5))


def test_negative_rectangular_variance_falls_back_to_bartlett_weights() -> None:
    # d = [1, -1, 2, 0, 3, 1]: mean 1, deviations [0, -2, 1, -1, 2, 0]; gamma0 = 10/6,
    # gamma1 = -5/6: rectangular V = 0, Bartlett V = 10/6 - 5/6 = 5/6. DM = 1/sqrt(5/36) = 6/sqrt(5),
    # x sqrt(5)/3 = 2 exactly; two-sided p of t = 2 with 5 df is 0.10194.
    d = [1.0, -1.0, 2.0, 0.0, 3.0, 1.0]
    result = diebold_mariano(d, [0.0] * 6, horizon=2)
    assert long_run_variance(d, 2) == pytest.approx(5 / 6)
    assert result.statistic == pytest.approx(2.0)
    assert result.p_value == pytest.approx(0.10194, abs=1e-5)


def test_shadow_worse_gives_a_negative_statistic_and_h1_uses_gamma0_only() -> None:
    # d = -[2, 1, 3, 2, 4, 0, 2, 2]: mean -2, gamma0 = 10/8; DM = -2 / sqrt(10/64) = -16/sqrt(10),
    # HLN (h = 1) sqrt(7/8).
    active = [0.0] * 8
    shadow = [2.0, 1.0, 3.0, 2.0, 4.0, 0.0, 2.0, 2.0]
    result = diebold_mariano(active, shadow, horizon=1)
    assert result.statistic == pytest.approx(-16 / math.sqrt(10) * math.sqrt(7 / 8))
    assert result.p_value < 0.01


def test_t_distribution_p_values_match_tables() -> None:
    assert student_t_two_sided_p(2.228, 10) == pytest.approx(0.05, abs=1e-4)  # t table, 10 df
    assert student_t_two_sided_p(1.96, 100_000) == pytest.approx(0.05, abs=1e-4)  # the normal's
    assert student_t_two_sided_p(0.0, 5) == 1.0
    assert student_t_two_sided_p(math.inf, 5) == 0.0


def test_too_few_pairs_and_identical_losses() -> None:
    assert minimum_pairs(8) == 16
    short = diebold_mariano([1.0] * 10, [0.0] * 10, horizon=8)
    assert math.isnan(short.statistic) and short.p_value == 1.0
    same = diebold_mariano([1.0] * 20, [1.0] * 20, horizon=2)
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    with pytest.raises(ValueError):
        diebold_mariano([1.0], [1.0, 2.0], horizon=1)


def pair(t: int, active_high: float, shadow_high: float) -> ScoredPair:
    # Close 100, realised 101 / 99, TP outcomes 1 / 0; only the predicted high differs.
    return ScoredPair(
        t, 100.0, 101.0, 99.0, 1.0, 0.0, (active_high, 99.0, 0.5, 0.5), (shadow_high, 99.0, 0.5, 0.5)
    )


def test_comparison_verdicts() -> None:
    # The shadow's high errors are smaller on every bar (noise so the variance is not zero).
    better = [pair(t, 102.0 + 0.1 * (t % 3), 101.2 + 0.05 * (t % 2)) for t in range(40)]
    comparison = compare(better, horizon=2, alpha=0.05, min_scored=30)
    by_metric = {m.metric: m for m in comparison.metrics}
    assert by_metric["range_mae_pct"].verdict is Verdict.SHADOW_BETTER
    assert by_metric["range_mae_pct"].mean_loss_shadow < by_metric["range_mae_pct"].mean_loss_active
    # The TP losses are identical: no difference there, and the overall verdict is still better.
    assert by_metric["tp_long_brier"].verdict is Verdict.NO_DIFFERENCE
    assert comparison.verdict is Verdict.SHADOW_BETTER and should_auto_promote(comparison)
    worse = [pair(t, p.shadow[0], p.active[0]) for t, p in enumerate(better)]
    assert compare(worse, 2, 0.05, 30).verdict is Verdict.SHADOW_WORSE
    few = compare(better[:10], 2, 0.05, 30)
    assert few.verdict is Verdict.NOT_ENOUGH_DATA and not should_auto_promote(few)
    assert "10 scored pairs" in few.summary
