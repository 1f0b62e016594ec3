"""Ensemble combination and the signal rule (pure)."""

from __future__ import annotations

import pytest

from ml_engine.predictions.domain.combine import (
    baseline_outputs,
    combine,
    models_to_run,
    prices_from_pct,
    range_source,
)
from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER, HorizonEnsemble, Member
from ml_engine.predictions.domain.horizons import STOP_LOSS_ATR, TAKE_PROFIT_ATR
from ml_engine.predictions.domain.signals import (
    SIGNAL_MARGIN,
    Action,
    decide,
    levels,
    position_of,
    summary,
    top_contributions,
)


def ensemble(beats: bool = True, **members: list[Member]) -> HorizonEnsemble:
    default = {
        "range_high_pct": [
            Member("m_high", "range_high_pct", 0.75),
            Member(BASELINE_MEMBER, "range_high_pct", 0.25),
        ],
        "range_low_pct": [Member("m_seq", "range_low_pct", 1.0), Member("m_zero", "range_low_pct", 0.0)],
        "tp_long": [Member("m_seq", "tp_long", 0.5), Member("m_tp", "tp_long", 0.5)],
        "tp_short": [Member(BASELINE_MEMBER, "tp_short", 1.0)],
    }
    default.update(members)
    return HorizonEnsemble(
        horizon="intraday",
        members=default,
        baseline_high_coef=1.2,
        baseline_low_coef=-1.1,
        tp_long_base_rate=0.30,
        tp_short_base_rate=0.32,
        classifier_beats_baseline=beats,
    )


def test_weighted_combination_per_column_with_the_baseline_member() -> None:
    e = ensemble()
    values = {
        ("m_high", "range_high_pct"): 0.8,
        ("m_seq", "range_low_pct"): -0.5,
        ("m_seq", "tp_long"): 0.4,
        ("m_tp", "tp_long"): 0.6,
    }
    out = combine(e, values, atr_pct=0.002)
    # baseline high = 1.2 * 0.002 * 100 = 0.24
    assert out.range_high_pct == pytest.approx(0.75 * 0.8 + 0.25 * 0.24)
    assert out.range_low_pct == pytest.approx(-0.5)  # weight-0 member ignored
    assert out.tp_long == pytest.approx(0.5)
    assert out.tp_short == pytest.approx(0.32)  # the base rate
    assert models_to_run(e) == ["m_high", "m_seq", "m_tp"]  # m_zero (weight 0) never runs
    assert range_source(e) == "models"
    assert baseline_outputs(e, 0.002)["range_low_pct"] == pytest.approx(-1.1 * 0.2)


def test_baseline_only_ensemble_says_so_and_crossed_ranges_are_ordered() -> None:
    e = ensemble(
        range_high_pct=[Member(BASELINE_MEMBER, "range_high_pct", 1.0)],
        range_low_pct=[Member(BASELINE_MEMBER, "range_low_pct", 1.0)],
    )
    assert range_source(e) == "baseline"
    crossed = ensemble(range_low_pct=[Member("m_seq", "range_low_pct", 1.0)])
    out = combine(
        crossed,
        {
            ("m_high", "range_high_pct"): -0.2,
            ("m_seq", "range_low_pct"): 0.5,
            ("m_seq", "tp_long"): 2.0,
            ("m_tp", "tp_long"): 2.0,
        },
        atr_pct=0.0,
    )
    assert out.range_low_pct <= out.range_high_pct
    assert out.tp_long == 1.0  # clipped to a probability
    high, low = prices_from_pct(1.2, 1.0, -0.5)
    assert high == pytest.approx(1.212) and low == pytest.approx(1.194)


@pytest.mark.parametrize(
    ("tp_long", "tp_short", "action"),
    [
        (0.30 + SIGNAL_MARGIN + 0.01, 0.32, Action.BUY),
        (0.30 + SIGNAL_MARGIN - 0.01, 0.32, Action.HOLD),  # inside the margin
        (0.30, 0.32 + SIGNAL_MARGIN + 0.01, Action.SELL),
        (0.45, 0.50, Action.SELL),  # both clear it: the larger edge wins (0.18 vs 0.15)
        (0.31, 0.31, Action.HOLD),
    ],
)
def test_decision_against_base_rates(tp_long: float, tp_short: float, action: Action) -> None:
    decision = decide(tp_long, tp_short, ensemble())
    assert decision.action is action
    expected_confidence = {Action.BUY: tp_long, Action.SELL: tp_short, Action.HOLD: 0.0}[action]
    assert decision.confidence == pytest.approx(expected_confidence)
    assert position_of(action) == {Action.BUY: 1, Action.SELL: -1, Action.HOLD: 0}[action]


def test_hold_with_reason_when_classifiers_did_not_beat_the_base_rate() -> None:
    decision = decide(0.9, 0.0, ensemble(beats=False))
    assert decision.action is Action.HOLD
    assert "did not beat their base rate" in decision.reason


def test_levels_risk_reward_and_summary() -> None:
    buy = levels(Action.BUY, 1.1000, 0.0020)
    assert buy.take_profit == pytest.approx(1.1000 + TAKE_PROFIT_ATR * 0.002)
    assert buy.stop_loss == pytest.approx(1.1000 - STOP_LOSS_ATR * 0.002)
    assert buy.risk_reward == pytest.approx(TAKE_PROFIT_ATR / STOP_LOSS_ATR)
    sell = levels(Action.SELL, 1.1000, 0.0020)
    assert sell.take_profit < 1.1 < sell.stop_loss
    hold = levels(Action.HOLD, 1.1, 0.002)
    assert (hold.entry, hold.take_profit, hold.stop_loss, hold.risk_reward) == (1.1, 0.0, 0.0, 0.0)
    explanation = top_contributions(
        ("a", "b", "c", "d", "e", "f"), [1, 2, 3, 4, 5, 6], [0.1, -0.9, 0.3, 0.0, 0.5, -0.2]
    )
    assert [c.feature for c in explanation] == ["b", "e", "c", "f", "a"]
    text = summary("EURUSD", "1h", decide(0.5, 0.3, ensemble()), buy, explanation)
    assert text.startswith("BUY EURUSD on 1h") and "main drivers: b, e, c" in text
