"""LearningService and CertificateService through a real server: enrolment, lessons, progress and
resume, quizzes graded on the server without leaking answers, attempt limits, certificates and
their public verification, pro gating, and nobody acting on another learner's records."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message

from business.audit.data import SqlAuditLog
from business.audit.domain import AuditQuery
from business.shared.database import BusinessStore
from tests.business.education.conftest import As
from tests.business.education.content import SECRET_EXPLANATION, course_content
from tests.support.in_process import violated_fields
from trading.education.v1 import authoring_service_pb2 as authoring_pb
from trading.education.v1 import authoring_service_pb2_grpc as authoring_grpc
from trading.education.v1 import catalog_service_pb2 as catalog_pb
from trading.education.v1 import catalog_service_pb2_grpc as catalog_grpc
from trading.education.v1 import certificate_service_pb2 as cert_pb
from trading.education.v1 import certificate_service_pb2_grpc as cert_grpc
from trading.education.v1 import education_pb2 as edu
from trading.education.v1 import learning_service_pb2 as pb
from trading.education.v1 import learning_service_pb2_grpc as pb_grpc

RIGHT = [
    pb.Answer(question_id="single", choice_ids=["b"]),
    pb.Answer(question_id="multiple", choice_ids=["macd", "rsi"]),
    pb.Answer(question_id="numeric", number=70.4),
]
WRONG = [
    pb.Answer(question_id="single", choice_ids=["a"]),
    pb.Answer(question_id="multiple", choice_ids=["rsi"]),
    pb.Answer(question_id="numeric", number=71),
]


async def _refused(call: object, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    assert refused.value.code() == code, refused.value.details()
    return refused.value


async def published_course(channel: grpc.aio.Channel, as_: As, **fields: object) -> str:
    stub = authoring_grpc.AuthoringServiceStub(channel)
    created = await stub.CreateCourse(
        authoring_pb.CreateCourseRequest(content=course_content(**fields)), metadata=as_("teacher-1")
    )
    await stub.PublishCourse(
        authoring_pb.PublishCourseRequest(course_id=created.course.course_id, expected_revision=1),
        metadata=as_("teacher-1"),
    )
    return created.course.course_id


def assert_no_answers(message: Message) -> None:
    """Neither the explanations nor any answer field is in what a learner got before submitting."""
    text = MessageToJson(message)
    assert SECRET_EXPLANATION not in text
    for leak in ("correct", "explanation", "tolerance"):
        assert leak not in text.lower(), f"{leak!r} in {text}"


async def test_a_learner_completes_a_course_and_anyone_verifies_the_certificate(
    channel: grpc.aio.Channel, as_: As
) -> None:
    course_id = await published_course(channel, as_)
    stub = pb_grpc.LearningServiceStub(channel)
    me = as_("learner-1")
    ids = pb.GetProgressRequest(course_id=course_id)
    await _refused(stub.GetProgress(ids, metadata=me), grpc.StatusCode.FAILED_PRECONDITION)

    enrolled = (await stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=me)).progress
    assert (enrolled.percent_complete, enrolled.resume_lesson_id) == (0, "l1")
    again = await stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=me)
    assert again.progress.enrolled_at == enrolled.enrolled_at

    lesson = (
        await stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="l2"), metadata=me)
    ).lesson
    assert (lesson.previous_lesson_id, lesson.next_lesson_id, lesson.video_duration_seconds) == (
        "l1",
        "quiz",
        120,
    )
    assert (await stub.GetProgress(ids, metadata=me)).progress.resume_lesson_id == "l2"
    done = await stub.CompleteLesson(
        pb.CompleteLessonRequest(course_id=course_id, lesson_id="l2"), metadata=me
    )
    assert (done.progress.percent_complete, done.progress.resume_lesson_id) == (33, "l1")
    assert not done.HasField("certificate")
    await stub.CompleteLesson(pb.CompleteLessonRequest(course_id=course_id, lesson_id="l1"), metadata=me)
    await _refused(
        stub.CompleteLesson(pb.CompleteLessonRequest(course_id=course_id, lesson_id="quiz"), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    await _refused(
        stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="nope"), metadata=me),
        grpc.StatusCode.NOT_FOUND,
    )

    failed = await stub.SubmitQuiz(
        pb.SubmitQuizRequest(course_id=course_id, lesson_id="quiz", answers=WRONG), metadata=me
    )
    assert (failed.score_percent, failed.passed, failed.attempts_used, failed.attempts_left) == (
        0,
        False,
        1,
        1,
    )
    assert failed.grades[0].explanation == SECRET_EXPLANATION
    assert not any(
        g.answer_revealed or g.correct_choice_ids or g.HasField("correct_number") for g in failed.grades
    )

    passed = await stub.SubmitQuiz(
        pb.SubmitQuizRequest(course_id=course_id, lesson_id="quiz", answers=RIGHT), metadata=me
    )
    assert (passed.score_percent, passed.passed, passed.progress.percent_complete) == (100, True, 100)
    assert [list(g.correct_choice_ids) for g in passed.grades] == [["b"], ["rsi", "macd"], []]
    assert passed.grades[2].correct_number == 70.0
    code = passed.certificate.code
    assert passed.certificate.learner_name == "Lin Learner" and passed.progress.certificate_code == code

    certificates = cert_grpc.CertificateServiceStub(channel)
    verified = await certificates.VerifyCertificate(cert_pb.VerifyCertificateRequest(code=code.lower()))
    assert (verified.learner_name, verified.course_title) == ("Lin Learner", "Testing candles")
    assert verified.issued_at.seconds > 0
    assert [f.name for f, _ in verified.ListFields()] == ["learner_name", "course_title", "issued_at"]
    await _refused(
        certificates.VerifyCertificate(cert_pb.VerifyCertificateRequest(code="AAAA-BBBB-CCCC-DDDD")),
        grpc.StatusCode.NOT_FOUND,
    )
    bad = await _refused(
        certificates.VerifyCertificate(cert_pb.VerifyCertificateRequest(code="")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(bad) == ["code"]
    mine = await certificates.ListCertificates(cert_pb.ListCertificatesRequest(), metadata=me)
    assert [c.code for c in mine.certificates] == [code]
    theirs = await certificates.ListCertificates(cert_pb.ListCertificatesRequest(), metadata=as_("learner-2"))
    assert list(theirs.certificates) == []
    enrollments = await stub.ListEnrollments(pb.ListEnrollmentsRequest(), metadata=me)
    assert [(e.course.course_id, e.progress.percent_complete) for e in enrollments.enrollments] == [
        (course_id, 100)
    ]


async def test_quiz_answers_never_reach_a_learner_before_grading(channel: grpc.aio.Channel, as_: As) -> None:
    for message in (edu.Quiz, edu.Question, edu.Lesson, edu.Course):
        names = [f.name for f in message.DESCRIPTOR.fields]
        assert not [n for n in names if "correct" in n or "explanation" in n], names
    course_id = await published_course(channel, as_)
    stub = pb_grpc.LearningServiceStub(channel)
    catalog = catalog_grpc.CatalogServiceStub(channel)
    me = as_("learner-1")
    responses: list[Message] = [
        await catalog.SearchCourses(catalog_pb.SearchCoursesRequest(query="candles")),
        await catalog.GetCourse(catalog_pb.GetCourseRequest(course=course_id)),
        await stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=me),
        await stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="quiz"), metadata=me),
        await stub.GetProgress(pb.GetProgressRequest(course_id=course_id), metadata=me),
        await stub.ListEnrollments(pb.ListEnrollmentsRequest(), metadata=me),
    ]
    for response in responses:
        assert_no_answers(response)
    quiz = responses[3].lesson.quiz  # type: ignore[attr-defined]
    assert [q.id for q in quiz.questions] == ["single", "multiple", "numeric"]
    assert [c.id for c in quiz.questions[1].choices] == ["rsi", "macd", "atr"]


async def test_attempts_are_limited_and_bad_answers_named(channel: grpc.aio.Channel, as_: As) -> None:
    course_id = await published_course(channel, as_)
    stub = pb_grpc.LearningServiceStub(channel)
    me = as_("learner-1")
    await stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=me)

    def submit(answers: list[pb.Answer]) -> object:
        return stub.SubmitQuiz(
            pb.SubmitQuizRequest(course_id=course_id, lesson_id="quiz", answers=answers), metadata=me
        )

    unknown = await _refused(submit([pb.Answer(question_id="zzz")]), grpc.StatusCode.INVALID_ARGUMENT)
    assert violated_fields(unknown) == ["answers[0].question_id"]
    two = await _refused(
        submit(
            [
                pb.Answer(question_id="numeric", number=1),
                pb.Answer(question_id="single", choice_ids=["a", "b"]),
            ]
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert violated_fields(two) == ["answers[1].choice_ids"]
    first = await submit(WRONG)  # type: ignore[misc]
    partial = await submit(RIGHT[:2])  # type: ignore[misc]
    assert (first.attempts_left, partial.score_percent, partial.passed, partial.attempts_left) == (
        1,
        66,
        True,
        0,
    )
    await _refused(submit(RIGHT), grpc.StatusCode.FAILED_PRECONDITION)
    progress = (await stub.GetProgress(pb.GetProgressRequest(course_id=course_id), metadata=me)).progress
    assert [
        (q.lesson_id, q.attempts_used, q.best_score_percent, q.passed) for q in progress.quiz_results
    ] == [("quiz", 2, 66, True)]


async def test_learners_act_only_on_their_own_records(channel: grpc.aio.Channel, as_: As) -> None:
    course_id = await published_course(channel, as_)
    stub = pb_grpc.LearningServiceStub(channel)
    await stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=as_("learner-1"))
    await stub.CompleteLesson(
        pb.CompleteLessonRequest(course_id=course_id, lesson_id="l1"), metadata=as_("learner-1")
    )
    other = as_("learner-2")
    # The learner is the token's subject: another learner's progress is simply not theirs.
    await _refused(
        stub.GetProgress(pb.GetProgressRequest(course_id=course_id), metadata=other),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    await _refused(
        stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="l1"), metadata=other),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert list((await stub.ListEnrollments(pb.ListEnrollmentsRequest(), metadata=other)).enrollments) == []
    mine = await stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=other)
    assert list(mine.progress.completed_lesson_ids) == []
    # Authoring RPCs refuse learners; a draft is nobody's to read but its instructors'.
    authoring = authoring_grpc.AuthoringServiceStub(channel)
    await _refused(
        authoring.GetCourseDraft(authoring_pb.GetCourseDraftRequest(course_id=course_id), metadata=other),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await _refused(
        stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id)), grpc.StatusCode.UNAUTHENTICATED
    )


async def test_pro_courses_need_plan_pro_at_every_step(channel: grpc.aio.Channel, as_: As) -> None:
    course_id = await published_course(channel, as_, slug="pro-course", tier=edu.COURSE_TIER_PRO)
    stub = pb_grpc.LearningServiceStub(channel)
    free = as_("learner-1")
    # The access rule (plans: pro) and the service (any enrolment call) both refuse plan free.
    await _refused(
        stub.EnrollProCourse(pb.EnrollProCourseRequest(course_id=course_id), metadata=free),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    refused = await _refused(
        stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=free),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert "plan pro" in (refused.details() or "")
    pro = as_("learner-1", plan="pro")
    await stub.EnrollProCourse(pb.EnrollProCourseRequest(course_id=course_id), metadata=pro)
    await stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="l1"), metadata=pro)
    # The plan ended: enrolled or not, the content is closed again.
    await _refused(
        stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="l1"), metadata=free),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await _refused(
        stub.SubmitQuiz(
            pb.SubmitQuizRequest(course_id=course_id, lesson_id="quiz", answers=RIGHT), metadata=free
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    # No plan check applies to an admin (as at the edge and in the access interceptor).
    admin = as_("admin-1", plan="free")
    await stub.EnrollProCourse(pb.EnrollProCourseRequest(course_id=course_id), metadata=admin)
    await stub.GetLesson(pb.GetLessonRequest(course_id=course_id, lesson_id="l1"), metadata=admin)
    # The catalogue filters by tier.
    catalog = catalog_grpc.CatalogServiceStub(channel)
    found = await catalog.SearchCourses(catalog_pb.SearchCoursesRequest(tier=edu.COURSE_TIER_PRO))
    assert [c.course_id for c in found.courses] == [course_id]


async def test_a_suspended_learner_earns_no_certificate(channel: grpc.aio.Channel, as_: As) -> None:
    stub = authoring_grpc.AuthoringServiceStub(channel)
    content = course_content(slug="one-lesson")
    del content.modules[1:]
    del content.modules[0].lessons[1:]
    created = await stub.CreateCourse(
        authoring_pb.CreateCourseRequest(content=content), metadata=as_("teacher-1")
    )
    course_id = created.course.course_id
    await stub.PublishCourse(
        authoring_pb.PublishCourseRequest(course_id=course_id, expected_revision=1), metadata=as_("teacher-1")
    )
    learning = pb_grpc.LearningServiceStub(channel)
    # A token issued before the suspension (the platform revokes those; education checks anyway).
    suspended = as_("suspended-1")
    await learning.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=suspended)
    done = await learning.CompleteLesson(
        pb.CompleteLessonRequest(course_id=course_id, lesson_id="l1"), metadata=suspended
    )
    assert done.progress.percent_complete == 100 and done.progress.HasField("completed_at")
    assert not done.HasField("certificate") and done.progress.certificate_code == ""


async def test_enrolments_at_once_make_one_enrolment_and_one_audit_row(
    channel: grpc.aio.Channel, as_: As, store: BusinessStore
) -> None:
    course_id = await published_course(channel, as_)
    stub = pb_grpc.LearningServiceStub(channel)
    me = as_("learner-1")
    # A double click, or a script: on PostgreSQL both transactions find no row and both insert.
    replies = await asyncio.gather(
        *(stub.EnrollCourse(pb.EnrollCourseRequest(course_id=course_id), metadata=me) for _ in range(6))
    )
    assert len({reply.progress.enrolled_at.ToNanoseconds() for reply in replies}) == 1
    with store.transaction() as session:
        events = SqlAuditLog(session).newest_first(
            AuditQuery(subject_id="learner-1"), limit=50, before_id=None
        )
    assert [e.action for e in events].count("education.enrollment.created") == 1
