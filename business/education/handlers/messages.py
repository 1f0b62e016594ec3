"""Education's proto mapping: messages <-> domain values. Learners' messages are built from types
that have no answer fields at all (Quiz, Question), so answers cannot slip into them."""

from __future__ import annotations

from dataclasses import replace

from business.education.domain import entities as e
from business.education.domain.grading import Answer
from business.education.domain.learning import LessonView, Progress, QuizResult
from service_runtime.timestamps import from_timestamp, to_timestamp
from trading.education.v1 import authoring_service_pb2 as authoring_pb
from trading.education.v1 import education_pb2 as pb
from trading.education.v1 import learning_service_pb2 as learning_pb

LEVEL_TO_PB = {
    e.BEGINNER: pb.COURSE_LEVEL_BEGINNER,
    e.INTERMEDIATE: pb.COURSE_LEVEL_INTERMEDIATE,
    e.ADVANCED: pb.COURSE_LEVEL_ADVANCED,
}
LEVEL_FROM_PB = {v: k for k, v in LEVEL_TO_PB.items()}
TIER_TO_PB = {e.FREE: pb.COURSE_TIER_FREE, e.PRO: pb.COURSE_TIER_PRO}
TIER_FROM_PB = {v: k for k, v in TIER_TO_PB.items()}
STATUS_TO_PB = {
    e.DRAFT: pb.COURSE_STATUS_DRAFT,
    e.PUBLISHED: pb.COURSE_STATUS_PUBLISHED,
    e.ARCHIVED: pb.COURSE_STATUS_ARCHIVED,
}
KIND_TO_PB = {
    e.SINGLE: pb.QUESTION_KIND_SINGLE_CHOICE,
    e.MULTIPLE: pb.QUESTION_KIND_MULTIPLE_CHOICE,
    e.NUMERIC: pb.QUESTION_KIND_NUMERIC,
}
KIND_FROM_PB = {v: k for k, v in KIND_TO_PB.items()}
DIRECTION_TO_PB = {e.UP: pb.FORECAST_DIRECTION_UP, e.DOWN: pb.FORECAST_DIRECTION_DOWN}
DIRECTION_FROM_PB = {v: k for k, v in DIRECTION_TO_PB.items()}


# --- live blocks ------------------------------------------------------------------------------


def _block_in(b: pb.LessonBlock) -> e.LessonBlock:
    """The oneof's kind with its fields ("" kind when none is set: refused by the domain)."""
    kind = b.WhichOneof("kind") or ""
    base = e.LessonBlock(id=b.id, kind=kind, caption=b.caption)
    if kind == e.CHART:
        c = b.chart
        return replace(
            base,
            symbol=c.symbol,
            timeframe=c.timeframe,
            start=c.start,
            end=c.end,
            indicators=tuple(c.indicators),
        )
    if kind == e.SIGNAL:
        return replace(base, symbol=b.signal.symbol, timeframe=b.signal.timeframe)
    if kind == e.TRY_IT:
        t = b.try_it
        return replace(
            base,
            symbol=t.symbol,
            timeframe=t.timeframe,
            start=t.start_date,
            end=t.end_date,
            strategy=t.strategy,
            params=dict(t.params),
            editable_params=tuple(t.editable_params),
            commission=t.commission,
        )
    if kind == e.FORECAST:
        f = b.forecast
        return replace(
            base,
            symbol=f.symbol,
            timeframe=f.timeframe,
            window_end=from_timestamp(f.window_end) if f.HasField("window_end") else None,
            window_bars=f.window_bars,
            horizon_bars=f.horizon_bars,
        )
    return base


def block_out(b: e.LessonBlock) -> pb.LessonBlock:
    out = pb.LessonBlock(id=b.id, caption=b.caption)
    if b.kind == e.CHART:
        out.chart.CopyFrom(
            pb.ChartBlock(
                symbol=b.symbol, timeframe=b.timeframe, start=b.start, end=b.end, indicators=b.indicators
            )
        )
    elif b.kind == e.SIGNAL:
        out.signal.CopyFrom(pb.SignalBlock(symbol=b.symbol, timeframe=b.timeframe))
    elif b.kind == e.TRY_IT:
        out.try_it.CopyFrom(
            pb.TryItBlock(
                strategy=b.strategy,
                symbol=b.symbol,
                timeframe=b.timeframe,
                start_date=b.start,
                end_date=b.end,
                params=b.params,
                editable_params=b.editable_params,
                commission=b.commission,
            )
        )
    elif b.kind == e.FORECAST:
        out.forecast.CopyFrom(
            pb.ForecastBlock(
                symbol=b.symbol,
                timeframe=b.timeframe,
                window_end=to_timestamp(b.window_end) if b.window_end else None,
                window_bars=b.window_bars,
                horizon_bars=b.horizon_bars,
            )
        )
    return out


def forecast_result(a: e.ForecastAnswer) -> pb.ForecastResult:
    return pb.ForecastResult(
        lesson_id=a.lesson_id,
        block_id=a.block_id,
        predicted=DIRECTION_TO_PB[a.predicted],
        actual=DIRECTION_TO_PB[a.actual],
        correct=a.correct,
        model_predicted=DIRECTION_TO_PB.get(a.model_predicted, pb.FORECAST_DIRECTION_UNSPECIFIED),
        model_correct=a.model_correct,
        close_at_window_end=a.close_at_window_end,
        close_after=a.close_after,
        outcome_bar_time=to_timestamp(a.outcome_bar_time),
        answered_at=to_timestamp(a.answered_at),
        model_note=a.model_note,
    )


# --- authoring: content in and out, answers included ---------------------------------------


def _question_in(q: pb.QuestionContent) -> e.Question:
    return e.Question(
        id=q.id,
        kind=KIND_FROM_PB.get(q.kind, ""),
        prompt=q.prompt,
        choices=tuple(e.Choice(c.id, c.text) for c in q.choices),
        correct_choice_ids=tuple(q.correct_choice_ids),
        correct_number=q.correct_number,
        tolerance=q.tolerance,
        explanation=q.explanation,
    )


def _lesson_in(x: pb.LessonContent) -> e.Lesson:
    quiz = None
    if x.HasField("quiz"):
        quiz = e.Quiz(
            x.quiz.passing_score_percent,
            x.quiz.max_attempts,
            tuple(_question_in(q) for q in x.quiz.questions),
        )
    return e.Lesson(
        id=x.id,
        title=x.title,
        body_markdown=x.body_markdown,
        video_url=x.video_url,
        video_duration_seconds=x.video_duration_seconds,
        estimated_minutes=x.estimated_minutes,
        quiz=quiz,
        blocks=tuple(_block_in(b) for b in x.blocks),
    )


def content_in(c: pb.CourseContent) -> e.CourseContent:
    """The author's content as the domain checks it (unknown enums become "", refused there)."""
    return e.CourseContent(
        title=c.title,
        slug=c.slug,
        summary=c.summary,
        level=LEVEL_FROM_PB.get(c.level, ""),
        tags=tuple(c.tags),
        tier=TIER_FROM_PB.get(c.tier, ""),
        instructor_ids=tuple(c.instructor_ids),
        cover_image_url=c.cover_image_url,
        modules=tuple(e.Module(m.id, m.title, tuple(_lesson_in(x) for x in m.lessons)) for m in c.modules),
    )


def _question_out(q: e.Question) -> pb.QuestionContent:
    return pb.QuestionContent(
        id=q.id,
        kind=KIND_TO_PB[q.kind],
        prompt=q.prompt,
        choices=[pb.Choice(id=c.id, text=c.text) for c in q.choices],
        correct_choice_ids=list(q.correct_choice_ids),
        correct_number=q.correct_number,
        tolerance=q.tolerance,
        explanation=q.explanation,
    )


def _lesson_out(x: e.Lesson) -> pb.LessonContent:
    lesson = pb.LessonContent(
        id=x.id,
        title=x.title,
        body_markdown=x.body_markdown,
        video_url=x.video_url,
        video_duration_seconds=x.video_duration_seconds,
        estimated_minutes=x.estimated_minutes,
        blocks=[block_out(b) for b in x.blocks],
    )
    if x.quiz is not None:
        lesson.quiz.CopyFrom(
            pb.QuizContent(
                passing_score_percent=x.quiz.passing_score_percent,
                max_attempts=x.quiz.max_attempts,
                questions=[_question_out(q) for q in x.quiz.questions],
            )
        )
    return lesson


def content_out(c: e.CourseContent, *, with_modules: bool = True) -> pb.CourseContent:
    return pb.CourseContent(
        title=c.title,
        slug=c.slug,
        summary=c.summary,
        level=LEVEL_TO_PB[c.level],
        tags=list(c.tags),
        tier=TIER_TO_PB[c.tier],
        instructor_ids=list(c.instructor_ids),
        cover_image_url=c.cover_image_url,
        modules=[
            pb.ModuleContent(id=m.id, title=m.title, lessons=[_lesson_out(x) for x in m.lessons])
            for m in c.modules
        ]
        if with_modules
        else [],
    )


def _instructors(course: e.Course) -> list[pb.Instructor]:
    return [pb.Instructor(user_id=i.user_id, display_name=i.display_name) for i in course.instructors]


def draft(course: e.Course, *, with_modules: bool = True) -> pb.CourseDraft:
    return pb.CourseDraft(
        course_id=course.id,
        revision=course.revision,
        published_revision=course.published_revision,
        status=STATUS_TO_PB[course.status],
        content=content_out(course.draft, with_modules=with_modules),
        instructors=_instructors(course),
        has_unpublished_changes=course.has_unpublished_changes,
        updated_at=to_timestamp(course.updated_at),
        published_at=to_timestamp(course.published_at) if course.published_at else None,
    )


# --- learners: the published revision, no answers ------------------------------------------


def card(course: e.Course) -> pb.CourseCard:
    c = course.published or course.draft
    return pb.CourseCard(
        course_id=course.id,
        slug=c.slug,
        title=c.title,
        summary=c.summary,
        level=LEVEL_TO_PB[c.level],
        tier=TIER_TO_PB[c.tier],
        tags=list(c.tags),
        instructors=_instructors(course),
        cover_image_url=c.cover_image_url,
        lesson_count=c.lesson_count,
        estimated_minutes=c.estimated_minutes,
        published_at=to_timestamp(course.published_at) if course.published_at else None,
    )


def course(value: e.Course) -> pb.Course:
    c = value.published
    assert c is not None
    return pb.Course(
        card=card(value),
        status=STATUS_TO_PB[value.status],
        revision=value.published_revision,
        modules=[
            pb.Module(
                id=m.id,
                title=m.title,
                lessons=[
                    pb.LessonSummary(
                        id=x.id,
                        title=x.title,
                        estimated_minutes=x.estimated_minutes,
                        has_quiz=x.quiz is not None,
                        has_video=bool(x.video_url),
                    )
                    for x in m.lessons
                ],
            )
            for m in c.modules
        ],
    )


def lesson(view: LessonView) -> pb.Lesson:
    x = view.lesson
    out = pb.Lesson(
        id=x.id,
        course_id=view.course_id,
        module_id=view.module.id,
        title=x.title,
        body_markdown=x.body_markdown,
        video_url=x.video_url,
        video_duration_seconds=x.video_duration_seconds,
        estimated_minutes=x.estimated_minutes,
        next_lesson_id=view.next_lesson_id,
        previous_lesson_id=view.previous_lesson_id,
        blocks=[block_out(b) for b in x.blocks],
    )
    if x.quiz is not None:
        out.quiz.CopyFrom(
            pb.Quiz(
                passing_score_percent=x.quiz.passing_score_percent,
                max_attempts=x.quiz.max_attempts,
                questions=[
                    pb.Question(
                        id=q.id,
                        kind=KIND_TO_PB[q.kind],
                        prompt=q.prompt,
                        choices=[pb.Choice(id=c.id, text=c.text) for c in q.choices],
                    )
                    for q in x.quiz.questions
                ],
            )
        )
    return out


def certificate(value: e.Certificate) -> pb.Certificate:
    return pb.Certificate(
        code=value.code,
        course_id=value.course_id,
        course_title=value.course_title,
        learner_name=value.learner_name,
        issued_at=to_timestamp(value.issued_at),
    )


def progress(value: Progress) -> pb.Progress:
    enrollment = value.enrollment
    lessons = {x.id for _, x in (value.course.published or value.course.draft).lessons()}
    return pb.Progress(
        course_id=value.course.id,
        enrolled_at=to_timestamp(enrollment.enrolled_at),
        completed_lesson_ids=[x for x in enrollment.completed_lesson_ids if x in lessons],
        percent_complete=value.percent_complete,
        resume_lesson_id=value.resume_lesson_id,
        quiz_results=[
            pb.QuizResult(
                lesson_id=q.lesson_id,
                attempts_used=q.attempts_used,
                best_score_percent=q.best_score_percent,
                passed=q.passed,
            )
            for q in value.quizzes
        ],
        completed_at=to_timestamp(enrollment.completed_at) if enrollment.completed_at else None,
        certificate_code=value.certificate.code if value.certificate else "",
        forecast_results=[forecast_result(a) for a in value.forecasts],
    )


def answers_in(request: learning_pb.SubmitQuizRequest) -> list[Answer]:
    return [Answer(a.question_id, tuple(a.choice_ids), a.number) for a in request.answers]


def quiz_result(result: QuizResult) -> learning_pb.SubmitQuizResponse:
    grades = []
    for g in result.grades:
        grade = learning_pb.QuestionGrade(
            question_id=g.question.id,
            correct=g.correct,
            explanation=g.question.explanation,
            answer_revealed=result.answers_revealed,
        )
        if result.answers_revealed:
            grade.correct_choice_ids.extend(g.question.correct_choice_ids)
            if g.question.kind == e.NUMERIC:
                grade.correct_number = g.question.correct_number
        grades.append(grade)
    return learning_pb.SubmitQuizResponse(
        score_percent=result.score_percent,
        passed=result.passed,
        attempts_used=result.attempts_used,
        attempts_left=result.attempts_left,
        grades=grades,
        progress=progress(result.completion.progress),
        certificate=certificate(result.completion.certificate) if result.completion.certificate else None,
    )


def figures(f: e.CourseFigures) -> authoring_pb.CourseFigures:
    return authoring_pb.CourseFigures(
        course_id=f.course_id,
        slug=f.slug,
        title=f.title,
        status=STATUS_TO_PB[f.status],
        enrollments=f.enrollments,
        completions=f.completions,
        completion_rate=f.completions / f.enrollments if f.enrollments else 0.0,
        quiz_attempts=f.quiz_attempts,
        quiz_attempts_passed=f.quiz_attempts_passed,
        quiz_pass_rate=f.quiz_attempts_passed / f.quiz_attempts if f.quiz_attempts else 0.0,
        certificates=f.certificates,
        forecast_answers=f.forecast_answers,
        forecast_answers_correct=f.forecast_answers_correct,
    )
