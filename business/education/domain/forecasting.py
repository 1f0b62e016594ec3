"""Forecasting exercises: on a historical window a learner says whether the close `horizon_bars`
later is up or down; the server reads what happened from the stored bars, asks the model the
same question as of the window's last bar, scores both and keeps the learner's first answer in
their progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from business.audit.domain import Client
from business.education.domain.context import Education
from business.education.domain.entities import DOWN, FORECAST, UP, ForecastAnswer, LessonBlock
from business.education.domain.learning import Progress, enrolled_lesson, progress_of
from business.education.domain.live_blocks import outcome_bars
from business.education.domain.ports import (
    Bar,
    EducationUnitOfWork,
    MarketData,
    ModelAnswer,
    UnknownTimeframe,
)
from service_runtime.caller import Caller, has_plan
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument, NotFound


@dataclass(frozen=True)
class Outcome:
    """What happened after the window: the direction and the closes that decided it."""

    direction: str
    close_at_window_end: float
    close_after: float
    bar: Bar


@dataclass(frozen=True)
class ForecastScored:
    answer: ForecastAnswer
    progress: Progress


def outcome(bars: list[Bar], horizon_bars: int) -> Outcome:
    """The window's last bar is bars[0]; the answer is the close `horizon_bars` bars later. A
    close that did not rise is "down" (flat counts as not up)."""
    if len(bars) < horizon_bars + 1:
        raise FailedPrecondition(
            f"only {len(bars) - 1} bars follow the window; the exercise needs {horizon_bars}"
        )
    first, last = bars[0], bars[horizon_bars]
    return Outcome(UP if last.close > first.close else DOWN, first.close, last.close, last)


def _block(lesson_blocks: tuple[LessonBlock, ...], block_id: str) -> LessonBlock:
    if not block_id.strip():
        raise InvalidArgument.field("block_id", "is required")
    block = next((b for b in lesson_blocks if b.id == block_id), None)
    if block is None or block.kind != FORECAST:
        raise NotFound(f"no forecasting exercise {block_id} in this lesson")
    return block


async def _model(market: MarketData, block: LessonBlock) -> ModelAnswer:
    assert block.window_end is not None
    return await market.model_answer(block.symbol, block.timeframe, block.window_end)


def shown_to(
    caller: Caller, model: ModelAnswer, horizon_plans: Callable[[str], tuple[str, ...]]
) -> ModelAnswer:
    """The model's answer as the learner may see it: from a horizon their plan does not open (a
    forecast on 5m, 4h or 1d bars for a free learner) only that it needs the plan. The exercise
    itself is scored either way."""
    plans = horizon_plans(model.horizon) if model.horizon else ()  # no horizon: no model answered
    if has_plan(caller, plans):
        return model
    return ModelAnswer(
        "", f"the {model.horizon} model's answer needs plan {' or '.join(plans)}", model.horizon
    )


async def submit_forecast(
    edu: Education,
    caller: Caller,
    course_id: str,
    lesson_id: str,
    block_id: str,
    direction: str,
    client: Client,
) -> ForecastScored:
    if direction not in (UP, DOWN):
        raise InvalidArgument.field("direction", "must be UP or DOWN")
    # Two clicks or a scripted burst of the same answer: the ML engine is asked once.
    exercise = Exercise(course_id, lesson_id, block_id)
    async with edu.forecast_turns.turn((caller.subject, exercise)):
        return await _score_once(edu, caller, exercise, direction, client)


@dataclass(frozen=True)
class Exercise:
    """The forecast block a learner answers."""

    course_id: str
    lesson_id: str
    block_id: str


async def _outcome_bars(market: MarketData, block: LessonBlock) -> list[Bar]:
    try:
        return await outcome_bars(market, block)
    except UnknownTimeframe as refused:  # the course's market data is gone (symbol removed, ...)
        raise FailedPrecondition(f"this exercise's market data is no longer available: {refused}") from None


async def _score_once(
    edu: Education, caller: Caller, exercise: Exercise, direction: str, client: Client
) -> ForecastScored:
    def find(uow: EducationUnitOfWork) -> tuple[LessonBlock, ForecastScored | None]:
        course, enrollment, lesson = enrolled_lesson(
            uow, caller, exercise.course_id, exercise.lesson_id, for_update=False
        )
        block = _block(lesson.blocks, exercise.block_id)
        earlier = uow.forecasts.of(caller.subject, course.id, lesson.id, block.id)
        return block, ForecastScored(earlier, progress_of(uow, course, enrollment)) if earlier else None

    # 1. The block, and the learner's earlier answer (the first one counts).
    block, earlier = await edu.transactions.run(find)
    if earlier is not None:
        return earlier
    if edu.market is None:
        raise DependencyUnavailable("the ML engine is not configured: forecasts cannot be scored")
    # 2. What happened, and the model's answer to the same question (outside any transaction).
    happened = outcome(await _outcome_bars(edu.market, block), block.horizon_bars)
    model = shown_to(caller, await _model(edu.market, block), edu.horizon_plans)

    # 3. The scored answer, kept unless a concurrent call kept one first.
    def keep(uow: EducationUnitOfWork) -> ForecastScored:
        course, enrollment, lesson = enrolled_lesson(
            uow, caller, exercise.course_id, exercise.lesson_id, for_update=True
        )
        answer = ForecastAnswer(
            user_id=caller.subject,
            course_id=course.id,
            lesson_id=lesson.id,
            block_id=block.id,
            predicted=direction,
            actual=happened.direction,
            model_predicted=model.direction,
            close_at_window_end=happened.close_at_window_end,
            close_after=happened.close_after,
            outcome_bar_time=happened.bar.time,
            answered_at=edu.now(),
            model_note=model.note[:300],
        )
        if uow.forecasts.add(answer):
            edu.record(
                uow,
                "education.forecast.answered",
                client,
                actor_id=caller.subject,
                subject_id=caller.subject,
                after={
                    "course_id": course.id,
                    "lesson_id": lesson.id,
                    "block_id": block.id,
                    "predicted": direction,
                    "actual": happened.direction,
                    "model_predicted": model.direction,
                },
            )
        else:
            kept = uow.forecasts.of(caller.subject, course.id, lesson.id, block.id)
            assert kept is not None
            answer = kept
        return ForecastScored(answer, progress_of(uow, course, enrollment))

    return await edu.transactions.run(keep)
