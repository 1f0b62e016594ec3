"""Each rule kind on a scripted run of bars: what fires, on which bar, and only once per crossing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from business.alerts.domain import rules
from business.alerts.domain.entities import (
    AlertKind,
    AlertRule,
    CrossDirection,
    FeedBar,
    FeedState,
    SignalSide,
)

NOW = datetime(2026, 11, 29, tzinfo=UTC)
HOUR = 3600


def bar(
    i: int,
    close: float = 100.0,
    action: str = "hold",
    confidence: float = 0.5,
    high: float | None = None,
    low: float | None = None,
    predicted: tuple[float, float] = (95.0, 105.0),
) -> FeedBar:
    return FeedBar(
        symbol="EURUSD",
        timeframe="1h",
        bar_time=i * HOUR,
        open=close,
        high=close if high is None else high,
        low=close if low is None else low,
        close=close,
        action=action,
        confidence=confidence,
        predicted_low=predicted[0],
        predicted_high=predicted[1],
    )


def signal_rule(side: SignalSide, min_confidence: float) -> AlertRule:
    return AlertRule(
        "r-signal", "u1", "EURUSD", "1h", AlertKind.SIGNAL, side=side, min_confidence=min_confidence
    )


def cross_rule(level: float, direction: CrossDirection) -> AlertRule:
    return AlertRule("r-cross", "u1", "EURUSD", "1h", AlertKind.PRICE_CROSS, level=level, direction=direction)


RANGE_RULE = AlertRule("r-range", "u1", "EURUSD", "1h", AlertKind.RANGE_EXIT)


def fired_on(rule: AlertRule, bars: list[FeedBar], state: FeedState | None = None) -> list[int]:
    """The indexes of the bars on which `rule` fired, evaluating them in order."""
    hits = []
    for b in bars:
        state, alerts = rules.evaluate([rule], state, b, NOW)
        assert len(alerts) <= 1
        if alerts:
            assert alerts[0].bar_time == b.bar_time and alerts[0].rule_id == rule.id
            hits.append(b.bar_time // HOUR)
    return hits


def test_signal_fires_when_it_turns_buy_with_enough_confidence_and_once_while_it_stays() -> None:
    bars = [
        bar(0, action="hold"),
        bar(1, action="buy", confidence=0.6),
        bar(2, action="buy", confidence=0.7),
        bar(3, action="buy", confidence=0.9),
        bar(4, action="hold"),
        bar(5, action="buy", confidence=0.8),
    ]
    assert fired_on(signal_rule(SignalSide.BUY, 0.6), bars) == [1, 5]


def test_signal_below_the_confidence_threshold_does_not_fire_until_it_reaches_it() -> None:
    bars = [
        bar(0, action="buy", confidence=0.59),
        bar(1, action="buy", confidence=0.6),
        bar(2, action="buy", confidence=0.95),
    ]
    # 0.6 is "at least 0.6"; staying above it is no new turn.
    assert fired_on(signal_rule(SignalSide.BUY, 0.6), bars) == [1]
    assert fired_on(signal_rule(SignalSide.BUY, 0.96), bars) == []


def test_signal_rule_for_sell_ignores_buys_and_either_side_fires_on_a_flip() -> None:
    bars = [
        bar(0, action="buy", confidence=0.9),
        bar(1, action="sell", confidence=0.9),
        bar(2, action="sell", confidence=0.9),
    ]
    assert fired_on(signal_rule(SignalSide.SELL, 0.5), bars) == [1]
    assert fired_on(signal_rule(SignalSide.ANY, 0.5), bars) == [0, 1]


def test_price_crossing_up_fires_once_per_crossing_and_never_on_the_first_bar() -> None:
    closes = [1.2, 0.9, 1.0, 1.05, 0.98, 1.01, 1.01]
    bars = [bar(i, close=c) for i, c in enumerate(closes)]
    # 0.9 -> 1.0 reaches the level (crossing up), 0.98 -> 1.01 crosses again; the first bar is a baseline.
    assert fired_on(cross_rule(1.0, CrossDirection.UP), bars) == [2, 5]
    assert fired_on(cross_rule(1.0, CrossDirection.DOWN), bars) == [1, 4]
    assert fired_on(cross_rule(1.0, CrossDirection.ANY), bars) == [1, 2, 4, 5]


def test_price_that_touches_the_level_from_above_and_stays_is_one_crossing_down() -> None:
    bars = [bar(i, close=c) for i, c in enumerate([1.1, 1.0, 1.0, 0.9])]
    assert fired_on(cross_rule(1.0, CrossDirection.DOWN), bars) == [1]


def test_range_exit_fires_when_the_bar_leaves_the_previous_prediction_and_again_only_after_returning() -> (
    None
):
    inside = (95.0, 105.0)
    bars = [
        bar(0, predicted=inside),
        bar(1, high=106.0, predicted=inside),  # above the range predicted at bar 0
        bar(2, high=107.0, predicted=inside),  # still out: the same exit
        bar(3, predicted=inside),  # back inside
        bar(4, low=94.0, predicted=inside),  # below: a new exit
    ]
    assert fired_on(RANGE_RULE, bars) == [1, 4]


def test_range_exit_compares_with_the_range_predicted_at_the_previous_bar_not_this_one() -> None:
    bars = [bar(0, predicted=(99.0, 101.0)), bar(1, high=102.0, predicted=(90.0, 110.0))]
    assert fired_on(RANGE_RULE, bars) == [1]
    # No prediction yet (zeros): nothing to leave.
    assert fired_on(RANGE_RULE, [bar(0, predicted=(0.0, 0.0)), bar(1, high=500.0)]) == []


def test_one_evaluation_serves_every_rule_and_the_state_carries_the_bar() -> None:
    many = [replace(cross_rule(1.0, CrossDirection.UP), id=f"r{i}", user_id=f"u{i % 3}") for i in range(50)]
    state, _ = rules.evaluate(many, None, bar(0, close=0.9), NOW)
    state, alerts = rules.evaluate(many, state, bar(1, close=1.1, action="buy", confidence=0.7), NOW)
    assert sorted(a.rule_id for a in alerts) == sorted(r.id for r in many)
    assert (state.bar_time, state.close, state.action, state.confidence) == (HOUR, 1.1, "buy", 0.7)
    assert "crossed above 1" in alerts[0].message
