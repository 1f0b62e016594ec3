"""Calibrated ranges (split-conformal) and calibrated probabilities (Platt), and signals that trade
only on an edge beyond costs (pure, fixed seeds)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml_engine.predictions.domain.calibration import (
    IDENTITY,
    apply_platt,
    brier,
    calibrate,
    choose_calibration,
    expected_calibration_error,
    fit_platt,
    reliability_bins,
)
from ml_engine.predictions.domain.combine import combine, range_intervals
from ml_engine.predictions.domain.intervals import (
    COVERAGES,
    DEFAULT_COVERAGE,
    conformal_quantile,
    conformal_quantiles,
    conformity_scores,
    covered,
    parse_coverage,
)
from ml_engine.predictions.domain.signals import Action, TradeCosts, decide, expected_value_pct
from tests.ml_engine.predictions.domain.test_combine_signals import ensemble


def test_offered_coverages_and_their_spellings() -> None:
    assert parse_coverage(0) == DEFAULT_COVERAGE == 0.8
    assert parse_coverage(80) == 0.8 and parse_coverage(0.95) == 0.95 and parse_coverage(50) == 0.5
    for bad in (0.7, 85, -1, 100):
        with pytest.raises(ValueError, match="not offered"):
            parse_coverage(bad)


def _ranges(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Exchangeable rows: ATR%, median high / low predictions, realized high / low around them."""
    atr = rng.uniform(0.05, 0.3, n)
    pred_high, pred_low = 1.1 * atr, -1.0 * atr
    y_high = pred_high + atr * rng.laplace(0, 0.5, n)
    y_low = pred_low + atr * rng.laplace(0, 0.5, n)
    return atr, pred_high, pred_low, y_high, y_low


def test_conformal_interval_covers_held_out_rows_at_each_nominal_coverage() -> None:
    rng = np.random.default_rng(17)
    atr, ph, pl, yh, yl = _ranges(rng, 600)  # calibration rows
    q = conformal_quantiles(conformity_scores(yh, yl, ph, pl, atr))
    atr_t, ph_t, pl_t, yh_t, yl_t = _ranges(rng, 20_000)  # held-out rows
    widths = []
    for c in COVERAGES:
        upper, lower = ph_t + q[f"{c:g}"] * atr_t, pl_t - q[f"{c:g}"] * atr_t
        assert abs(covered(yh_t, yl_t, upper, lower).mean() - c) <= 0.03
        widths.append(float((upper - lower).mean()))
    assert widths == sorted(widths)  # more coverage, wider
    # The median range itself holds far less often than any offered coverage.
    assert covered(yh_t, yl_t, ph_t, pl_t).mean() < 0.35


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    scores = np.arange(1.0, 10.0)  # n = 9: rank ceil(10 * 0.8) = 8
    assert conformal_quantile(scores, 0.8) == 8.0
    assert conformal_quantile(scores, 0.95) == 9.0  # rank 10 > n: the largest
    with pytest.raises(ValueError):
        conformal_quantile(np.array([np.nan]), 0.8)
    one_sided = conformity_scores(np.array([2.0]), None, np.array([1.0]), None, np.array([0.5]))
    assert one_sided.tolist() == [2.0]


def test_served_intervals_widen_the_median_range_by_atr() -> None:
    e = replace(
        ensemble(),
        interval_quantiles={"0.5": 0.5, "0.8": 1.5, "0.9": 2.0, "0.95": 3.0},
        baseline_interval_quantiles={"0.5": 0.6, "0.8": 2.0, "0.9": 2.5, "0.95": 3.5},
        heldout_metrics={"interval_coverage_0.8": 0.79},
    )
    got = range_intervals(e, 0.2, -0.1, 0.001)  # ATR 0.1 % of the close
    assert [i.coverage for i in got] == list(COVERAGES)
    eighty = got[1]
    assert eighty.high_pct == pytest.approx(0.2 + 0.15) and eighty.low_pct == pytest.approx(-0.1 - 0.15)
    assert eighty.heldout_coverage == 0.79
    base_span = e.baseline_high_coef - e.baseline_low_coef
    assert eighty.baseline_width_pct == pytest.approx((base_span + 4.0) * 0.1)
    assert range_intervals(ensemble(), 0.2, -0.1, 0.001) == ()  # an older manifest: no interval


def _overconfident(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.uniform(0.1, 0.9, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    logit = np.log(truth / (1 - truth))
    return 1 / (1 + np.exp(-(2.5 * logit + 0.4))), y  # too sharp and shifted


def test_platt_fit_on_validation_improves_held_out_brier_and_ece() -> None:
    rng = np.random.default_rng(3)
    p_val, y_val = _overconfident(rng, 500)
    p_test, y_test = _overconfident(rng, 5000)
    params = choose_calibration(p_val, y_val)
    assert params != IDENTITY
    calibrated = apply_platt(p_test, params)
    assert brier(y_test, calibrated) < brier(y_test, p_test) - 0.005
    assert expected_calibration_error(y_test, calibrated) < expected_calibration_error(y_test, p_test) / 2
    # Monotone: the ranking (AUC) is unchanged.
    assert (np.argsort(calibrated, kind="stable") == np.argsort(p_test, kind="stable")).all()
    bins = reliability_bins(y_test, calibrated)
    assert sum(b["rows"] for b in bins) == 5000 and all(b["low"] <= b["predicted"] < b["high"] for b in bins)


def test_calibrated_probabilities_stay_calibrated() -> None:
    rng = np.random.default_rng(5)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        p = rng.uniform(0.2, 0.6, n)
        return p, (rng.uniform(size=n) < p).astype(float)

    p_val, y_val = draw(600)
    p_test, y_test = draw(5000)
    a, b = fit_platt(p_val, y_val)
    assert abs(a - 1) < 0.5 and abs(b) < 0.5  # near the identity
    params = choose_calibration(p_val, y_val)
    assert brier(y_test, apply_platt(p_test, params)) <= brier(y_test, p_test) + 0.002
    assert choose_calibration(p_val[:30], y_val[:30]) == IDENTITY  # too few rows to refit


def test_one_probability_maps_as_the_vectorised_platt_map_does() -> None:
    """`calibrate` (scalar math, the serving path) and `apply_platt` (numpy, training) are one map,
    including at the clipped ends and for steep maps whose sigmoid saturates."""
    rng = np.random.default_rng(11)
    probs = [*rng.uniform(0, 1, 500), 0.0, 1.0, 1e-12, 1 - 1e-12]
    maps = [(1.0, 0.0), (0.7, -0.3), (2.5, 1.0), (60.0, 40.0), (-60.0, -40.0)]
    for params in maps:
        with np.errstate(over="ignore"):  # exp of a steep map's large logits: inf, sigmoid 0
            expected = apply_platt(np.array(probs), params)
        served = [calibrate(float(p), params) for p in probs]
        np.testing.assert_allclose(served, expected, rtol=1e-12, atol=1e-15)
    assert calibrate(0.3, None) == 0.3 and np.isnan(calibrate(float("nan"), (2.0, 1.0)))


def test_combine_serves_the_calibrated_probability() -> None:
    values = {("m_high", "range_high_pct"): 0.2, ("m_seq", "range_low_pct"): -0.1}
    values |= {("m_seq", "tp_long"): 0.5, ("m_tp", "tp_long"): 0.5}
    raw = combine(ensemble(), values, 0.001)
    calibrated = combine(replace(ensemble(), tp_calibration={"tp_long": [1.0, -1.0]}), values, 0.001)
    assert raw.tp_long == 0.5
    assert calibrated.tp_long == pytest.approx(1 / (1 + np.e))
    assert calibrated.tp_short == raw.tp_short  # no map for that column: unchanged


def test_signal_holds_without_an_edge_beyond_costs() -> None:
    e = ensemble()
    atr = 0.001  # 0.1 % of the close: TP at +0.15 %, SL at -0.1 %
    assert expected_value_pct(0.5, atr) == pytest.approx(0.5 * 0.15 - 0.5 * 0.1)
    free = decide(0.5, 0.2, e, atr_pct=atr)
    assert free.action is Action.BUY and free.expected_value_pct == pytest.approx(0.025)
    costly = decide(0.5, 0.2, e, atr_pct=atr, costs=TradeCosts(commission=0.0001, slippage=0.0001))
    assert costly.cost_pct == pytest.approx(0.03)
    assert costly.action is Action.HOLD and "no edge beyond costs" in costly.reason
    assert costly.expected_value_pct == pytest.approx(-0.005)
    # Clearing the base rate is not enough when the payoff loses on average: 0.38 x 1.5 < 0.62 x 1.
    below_break_even = decide(0.38, 0.2, e, atr_pct=atr)
    assert below_break_even.action is Action.HOLD and below_break_even.expected_value_pct < 0
