"""Scoring a forecasting exercise: the close `horizon_bars` after the window's last bar against
that bar's close; a flat close is not up; too few bars is a failed precondition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from business.education.domain.entities import DOWN, UP, ForecastAnswer
from business.education.domain.forecasting import outcome
from business.education.domain.live_blocks import indicator_name
from business.education.domain.ports import Bar
from service_runtime.errors import FailedPrecondition

T0 = datetime(2017, 11, 14, tzinfo=UTC)


def bars(*closes: float) -> list[Bar]:
    return [Bar(T0 + timedelta(hours=i), c) for i, c in enumerate(closes)]


def test_the_close_horizon_bars_later_decides() -> None:
    happened = outcome(bars(1.0, 0.5, 0.7, 1.2, 0.1), 3)
    assert (happened.direction, happened.close_at_window_end, happened.close_after) == (UP, 1.0, 1.2)
    assert happened.bar.time == T0 + timedelta(hours=3)
    assert outcome(bars(1.0, 2.0, 0.9), 2).direction == DOWN


def test_a_flat_close_is_not_up() -> None:
    assert outcome(bars(1.0, 1.0), 1).direction == DOWN


def test_too_few_bars_after_the_window_is_refused() -> None:
    with pytest.raises(FailedPrecondition):
        outcome(bars(1.0, 1.1), 2)


def test_learner_and_model_are_scored_on_the_same_outcome() -> None:
    answer = ForecastAnswer(
        user_id="u", course_id="c", lesson_id="l", block_id="b", predicted=UP, actual=DOWN,
        model_predicted=DOWN, close_at_window_end=1.0, close_after=0.9, outcome_bar_time=T0, answered_at=T0,
    )  # fmt: skip
    assert (answer.correct, answer.model_correct) == (False, True)
    assert not ForecastAnswer(**{**answer.__dict__, "model_predicted": ""}).model_correct


def test_indicator_specs_are_checked_by_name() -> None:
    assert [indicator_name(s) for s in ("rsi:14", "MACD", " bbands:20,2")] == ["rsi", "macd", "bbands"]
