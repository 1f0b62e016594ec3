"""Live blocks through a real server: every block checked against the ML engine when saved (each
unknown symbol, timeframe, indicator, strategy or window names its block), the ML engine down is
UNAVAILABLE, learners get the blocks, a forecasting exercise is scored on the server and kept in
progress (the first answer counts), and admins read each course's figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from business.education.domain.context import Education
from business.education.domain.entities import UP
from business.education.domain.ports import ModelAnswer
from business.education.wiring import build_education
from business.shared.database import BusinessStore
from tests.business.education.conftest import As, add_people
from tests.business.education.content import course_content
from tests.business.education.market import FakeMarket
from tests.support.in_process import Metadata, violated_fields
from trading.education.v1 import authoring_service_pb2 as authoring_pb
from trading.education.v1 import authoring_service_pb2_grpc as authoring_grpc
from trading.education.v1 import education_pb2 as pb
from trading.education.v1 import learning_service_pb2 as learning_pb
from trading.education.v1 import learning_service_pb2_grpc as learning_grpc

BLOCKS = "content.modules[0].lessons[0].blocks"


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket()


@pytest.fixture
def education(store: BusinessStore, market: FakeMarket) -> Education:
    add_people(store)
    return build_education(store, market)


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


OFF_BAR = _stamp(datetime(2017, 11, 14, 6, 30, tzinfo=UTC))  # between two bars
OFF_BAR_FORECAST = pb.LessonBlock(
    id="off", forecast=pb.ForecastBlock(symbol="EURUSD", timeframe="1h", window_end=OFF_BAR, horizon_bars=2)
)
SIGNAL_UNKNOWN = pb.LessonBlock(id="sig", signal=pb.SignalBlock(symbol="XAUUSD", timeframe="1h"))


def chart(**fields: object) -> pb.LessonBlock:
    values = {"symbol": "EURUSD", "timeframe": "1h", "indicators": ["rsi:14", "atr"], **fields}
    return pb.LessonBlock(id="chart", chart=pb.ChartBlock(**values))  # type: ignore[arg-type]


def try_it(**fields: object) -> pb.LessonBlock:
    values = {"strategy": "sma_cross", "symbol": "EURUSD", "timeframe": "1h", "params": {"fast": 5.0},
              "editable_params": ["fast", "slow"], **fields}  # fmt: skip
    return pb.LessonBlock(id="try", try_it=pb.TryItBlock(**values))  # type: ignore[arg-type]


def forecast(hour: int = 6, horizon: int = 4) -> pb.LessonBlock:
    return pb.LessonBlock(
        id="guess",
        caption="Up or down?",
        forecast=pb.ForecastBlock(
            symbol="EURUSD",
            timeframe="1h",
            window_end=_stamp(datetime(2017, 11, 14, hour, tzinfo=UTC)),
            window_bars=20,
            horizon_bars=horizon,
        ),
    )


def with_blocks(*blocks: pb.LessonBlock, slug: str = "live-course") -> pb.CourseContent:
    content = course_content(slug=slug)
    content.modules[0].lessons[0].blocks.extend(blocks)
    return content


async def _create(
    channel: grpc.aio.Channel, as_: As, content: pb.CourseContent
) -> authoring_pb.CreateCourseResponse:
    stub = authoring_grpc.AuthoringServiceStub(channel)
    return await stub.CreateCourse(
        authoring_pb.CreateCourseRequest(content=content), metadata=as_("teacher-1")
    )


async def _refused_fields(channel: grpc.aio.Channel, as_: As, *blocks: pb.LessonBlock) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _create(channel, as_, with_blocks(*blocks))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    return violated_fields(refused.value)


@pytest.mark.parametrize(
    ("block", "field"),
    [
        (chart(symbol="NOPE"), f"{BLOCKS}[1].symbol"),
        (chart(timeframe="1d"), f"{BLOCKS}[1].timeframe"),
        (chart(indicators=["rsi", "zigzag:3"]), f"{BLOCKS}[1].indicators[1]"),
        (try_it(strategy="martingale"), f"{BLOCKS}[1].strategy"),
        (try_it(params={"fast": 5.0, "leverage": 10.0}), f"{BLOCKS}[1].params[leverage]"),
        (SIGNAL_UNKNOWN, f"{BLOCKS}[1].symbol"),
        (forecast(hour=22, horizon=4), f"{BLOCKS}[1].horizon_bars"),
        (OFF_BAR_FORECAST, f"{BLOCKS}[1].window_end"),
    ],
)  # fmt: skip
async def test_each_unknown_reference_names_its_block(
    channel: grpc.aio.Channel, as_: As, block: pb.LessonBlock, field: str
) -> None:
    good = pb.LessonBlock(id="ok", chart=pb.ChartBlock(symbol="GOOG", timeframe="1h"))
    assert await _refused_fields(channel, as_, good, block) == [field]


async def test_block_shapes_are_checked_before_the_ml_engine_is_asked(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket
) -> None:
    fields = await _refused_fields(
        channel,
        as_,
        pb.LessonBlock(id="empty"),
        pb.LessonBlock(id="empty", chart=pb.ChartBlock(symbol="", timeframe="hourly", start="yesterday")),
        pb.LessonBlock(id="f", forecast=pb.ForecastBlock(symbol="EURUSD", timeframe="1h", horizon_bars=99)),
    )
    assert fields == [
        f"{BLOCKS}[1].id",
        f"{BLOCKS}[0].kind",
        f"{BLOCKS}[1].symbol",
        f"{BLOCKS}[1].timeframe",
        f"{BLOCKS}[1].start",
        f"{BLOCKS}[2].window_end",
        f"{BLOCKS}[2].horizon_bars",
    ]
    assert market.calls == []


async def test_the_ml_engine_down_at_save_is_unavailable_and_nothing_is_saved(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket
) -> None:
    market.down = True
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _create(channel, as_, with_blocks(chart()))
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    stub = authoring_grpc.AuthoringServiceStub(channel)
    listed = await stub.ListAuthoredCourses(
        authoring_pb.ListAuthoredCoursesRequest(), metadata=as_("teacher-1")
    )
    assert list(listed.courses) == []
    # A course without live blocks needs no ML engine.
    assert (await _create(channel, as_, course_content(slug="plain-course"))).course.revision == 1


async def _published(channel: grpc.aio.Channel, as_: As, *blocks: pb.LessonBlock) -> str:
    created = await _create(channel, as_, with_blocks(*blocks))
    assert [b.id for b in created.course.content.modules[0].lessons[0].blocks] == [b.id for b in blocks]
    await authoring_grpc.AuthoringServiceStub(channel).PublishCourse(
        authoring_pb.PublishCourseRequest(course_id=created.course.course_id, expected_revision=1),
        metadata=as_("teacher-1"),
    )
    return created.course.course_id


async def test_a_forecast_is_scored_on_the_server_and_kept_in_progress(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket
) -> None:
    course_id = await _published(channel, as_, chart(), try_it(), forecast(hour=6, horizon=4))
    stub = learning_grpc.LearningServiceStub(channel)
    me = as_("learner-1")
    await stub.EnrollCourse(learning_pb.EnrollCourseRequest(course_id=course_id), metadata=me)
    lesson = (
        await stub.GetLesson(learning_pb.GetLessonRequest(course_id=course_id, lesson_id="l1"), metadata=me)
    ).lesson
    assert [b.WhichOneof("kind") for b in lesson.blocks] == ["chart", "try_it", "forecast"]
    assert lesson.blocks[0].chart.indicators == ["rsi:14", "atr"]
    assert lesson.blocks[1].try_it.editable_params == ["fast", "slow"]
    assert lesson.blocks[2].forecast.window_bars == 20

    def submit(direction: int, block_id: str = "guess") -> object:
        return stub.SubmitForecast(
            learning_pb.SubmitForecastRequest(course_id=course_id, lesson_id="l1", block_id=block_id,
                                              direction=direction), metadata=me)  # fmt: skip

    # Closes rise until 11:00: from 06:00, four bars later is up; the model said up too.
    scored = await submit(pb.FORECAST_DIRECTION_DOWN)  # type: ignore[misc]
    result = scored.result
    assert (result.predicted, result.actual, result.correct) == (
        pb.FORECAST_DIRECTION_DOWN,
        pb.FORECAST_DIRECTION_UP,
        False,
    )
    assert (result.model_predicted, result.model_correct) == (pb.FORECAST_DIRECTION_UP, True)
    assert result.close_at_window_end == pytest.approx(1.176) and result.close_after == pytest.approx(1.18)
    assert result.outcome_bar_time.ToDatetime(tzinfo=UTC) == datetime(2017, 11, 14, 10, tzinfo=UTC)
    assert [r.block_id for r in scored.progress.forecast_results] == ["guess"]
    # The first answer counts: answering again changes nothing and asks the ML engine nothing.
    calls = len(market.calls)
    again = await submit(pb.FORECAST_DIRECTION_UP)  # type: ignore[misc]
    assert again.result == result and len(market.calls) == calls
    progress = await stub.GetProgress(learning_pb.GetProgressRequest(course_id=course_id), metadata=me)
    assert list(progress.progress.forecast_results) == [result]
    # Bad answers are named; a chart block is no exercise.
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await submit(pb.FORECAST_DIRECTION_UNSPECIFIED)  # type: ignore[misc]
    assert violated_fields(bad.value) == ["direction"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await submit(pb.FORECAST_DIRECTION_UP, block_id="chart")  # type: ignore[misc]
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # Another learner not enrolled cannot answer.
    request = learning_pb.SubmitForecastRequest(
        course_id=course_id, lesson_id="l1", block_id="guess", direction=pb.FORECAST_DIRECTION_UP
    )
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await stub.SubmitForecast(request, metadata=as_("learner-2"))
    assert other.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_concurrent_answers_to_one_exercise_ask_the_ml_engine_once(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket, education: Education
) -> None:
    course_id = await _published(channel, as_, forecast())
    stub = learning_grpc.LearningServiceStub(channel)
    me = as_("learner-1")
    await stub.EnrollCourse(learning_pb.EnrollCourseRequest(course_id=course_id), metadata=me)
    market.answer_delay_s = 0.3  # long enough for every call to arrive before the first is kept
    asked = market.calls.count("model_answer")
    replies = await asyncio.gather(
        *(
            stub.SubmitForecast(
                learning_pb.SubmitForecastRequest(
                    course_id=course_id, lesson_id="l1", block_id="guess", direction=direction
                ),
                metadata=me,
            )
            for direction in [pb.FORECAST_DIRECTION_UP, pb.FORECAST_DIRECTION_DOWN] * 4
        )
    )
    assert market.calls.count("model_answer") == asked + 1
    assert len({r.result.SerializeToString() for r in replies}) == 1  # the first answer, eight times
    assert len(education.forecast_turns) == 0  # no lock outlives its calls


async def test_the_model_answer_of_a_horizon_the_learners_plan_does_not_open_is_withheld(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket
) -> None:
    """Business asks the model with its own token: a free learner must not get, through an
    exercise, the answer of a model Predict keeps for pro (here the position horizon)."""
    market.model = ModelAnswer(UP, "position: range +0.20% to +1.10% over 5 bars", "position")
    course_id = await _published(channel, as_, forecast())
    stub = learning_grpc.LearningServiceStub(channel)
    free, pro = as_("learner-1"), as_("learner-2", "pro")
    request = learning_pb.SubmitForecastRequest(
        course_id=course_id, lesson_id="l1", block_id="guess", direction=pb.FORECAST_DIRECTION_UP
    )
    results = []
    for me in (free, pro):
        await stub.EnrollCourse(learning_pb.EnrollCourseRequest(course_id=course_id), metadata=me)
        results.append((await stub.SubmitForecast(request, metadata=me)).result)
    withheld, shown = results
    assert (withheld.predicted, withheld.actual, withheld.correct) == (shown.predicted, shown.actual, True)
    assert (withheld.model_predicted, withheld.model_note) == (
        pb.FORECAST_DIRECTION_UNSPECIFIED,
        "the position model's answer needs plan pro",
    )
    assert (shown.model_predicted, shown.model_note) == (pb.FORECAST_DIRECTION_UP, market.model.note)
    kept = await stub.GetProgress(learning_pb.GetProgressRequest(course_id=course_id), metadata=free)
    assert list(kept.progress.forecast_results) == [withheld]  # nothing of the answer was stored


async def enrolled_in_a_forecast(
    channel: grpc.aio.Channel, as_: As
) -> tuple[learning_grpc.LearningServiceStub, learning_pb.SubmitForecastRequest, Metadata]:
    """(stub, an UP answer to the forecast block, the enrolled learner's metadata)."""
    course_id = await _published(channel, as_, forecast())
    stub = learning_grpc.LearningServiceStub(channel)
    me = as_("learner-1")
    await stub.EnrollCourse(learning_pb.EnrollCourseRequest(course_id=course_id), metadata=me)
    request = learning_pb.SubmitForecastRequest(
        course_id=course_id, lesson_id="l1", block_id="guess", direction=pb.FORECAST_DIRECTION_UP
    )
    return stub, request, me


async def test_a_forecast_when_the_ml_engine_is_down_is_unavailable_and_not_kept(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket
) -> None:
    stub, request, me = await enrolled_in_a_forecast(channel, as_)
    market.down = True
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SubmitForecast(request, metadata=me)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    market.down = False
    assert (await stub.SubmitForecast(request, metadata=me)).result.correct is True


async def test_a_forecast_on_market_data_since_removed_is_a_failed_precondition(
    channel: grpc.aio.Channel, as_: As, market: FakeMarket
) -> None:
    stub, request, me = await enrolled_in_a_forecast(channel, as_)
    market.removed = {"EURUSD"}
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SubmitForecast(request, metadata=me)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no longer available" in (refused.value.details() or "")


async def test_admins_read_enrolments_completions_and_quiz_pass_rates(
    channel: grpc.aio.Channel, as_: As
) -> None:
    course_id = await _published(channel, as_, chart())
    learning = learning_grpc.LearningServiceStub(channel)
    for learner in ("learner-1", "learner-2"):
        await learning.EnrollCourse(
            learning_pb.EnrollCourseRequest(course_id=course_id), metadata=as_(learner)
        )
    me = as_("learner-1")
    wrong = [learning_pb.Answer(question_id="numeric", number=1.0)]
    right = [
        learning_pb.Answer(question_id="single", choice_ids=["b"]),
        learning_pb.Answer(question_id="multiple", choice_ids=["rsi", "macd"]),
        learning_pb.Answer(question_id="numeric", number=70.0),
    ]
    for answers in (wrong, right):
        await learning.SubmitQuiz(
            learning_pb.SubmitQuizRequest(course_id=course_id, lesson_id="quiz", answers=answers), metadata=me
        )
    for lesson_id in ("l1", "l2"):
        await learning.CompleteLesson(
            learning_pb.CompleteLessonRequest(course_id=course_id, lesson_id=lesson_id), metadata=me
        )
    stub = authoring_grpc.AuthoringServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListCourseFigures(authoring_pb.ListCourseFiguresRequest(), metadata=as_("teacher-1"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    figures = await stub.ListCourseFigures(authoring_pb.ListCourseFiguresRequest(), metadata=as_("admin-1"))
    mine = next(f for f in figures.courses if f.course_id == course_id)
    assert (mine.enrollments, mine.completions, mine.certificates) == (2, 1, 1)
    assert (mine.quiz_attempts, mine.quiz_attempts_passed, mine.quiz_pass_rate) == (2, 1, 0.5)
    assert mine.completion_rate == 0.5 and mine.status == pb.COURSE_STATUS_PUBLISHED
    assert figures.courses[0].course_id == course_id  # most enrolments first
