"""Learning: enrolment, lessons, quizzes, progress and the certificate that completes a course.
A learner acts only on their own records (the caller of the call); pro courses need plan `pro`
at every step, since a plan may end after enrolling."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from business.audit.domain import Client
from business.education.domain.authoring import offset_of
from business.education.domain.catalog import visible
from business.education.domain.context import Education, has_pro, is_admin
from business.education.domain.entities import (
    PRO,
    PUBLISHED,
    Certificate,
    Course,
    CourseContent,
    Enrollment,
    ForecastAnswer,
    Lesson,
    Module,
    QuizAttempt,
)
from business.education.domain.grading import Answer, Grade, grade
from business.education.domain.ports import EducationUnitOfWork
from business.identity.domain import paging
from service_runtime.caller import Caller
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

# Certificate codes: 16 characters of an alphabet without look-alikes (80 bits), in groups of 4.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class QuizStanding:
    lesson_id: str
    attempts_used: int
    best_score_percent: int
    passed: bool


@dataclass(frozen=True)
class Progress:
    course: Course
    enrollment: Enrollment
    percent_complete: int
    resume_lesson_id: str
    quizzes: list[QuizStanding]
    certificate: Certificate | None
    forecasts: list[ForecastAnswer]


@dataclass(frozen=True)
class LessonView:
    course_id: str
    module: Module
    lesson: Lesson
    previous_lesson_id: str
    next_lesson_id: str


@dataclass(frozen=True)
class Completion:
    progress: Progress
    # Issued by this call.
    certificate: Certificate | None = None


@dataclass(frozen=True)
class QuizResult:
    score_percent: int
    passed: bool
    attempts_used: int
    # -1: unlimited.
    attempts_left: int
    grades: list[Grade]
    answers_revealed: bool
    completion: Completion


def certificate_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _content(course: Course) -> CourseContent:
    assert course.published is not None  # visible() returns published courses only
    return course.published


def _entitled(caller: Caller, course: Course) -> None:
    if _content(course).tier == PRO and not (
        has_pro(caller) or is_admin(caller) or course.taught_by(caller.subject)
    ):
        raise PermissionDenied(f"course {course.id} is a pro course: it needs plan pro")


def _enrolled(
    uow: EducationUnitOfWork, caller: Caller, course_id: str, *, for_update: bool = True
) -> tuple[Course, Enrollment]:
    course = visible(uow, course_id)
    _entitled(caller, course)
    enrollment = uow.enrollments.get(caller.subject, course.id, for_update=for_update)
    if enrollment is None:
        raise FailedPrecondition(f"enrol in course {course.id} first")
    return course, enrollment


def _lesson(course: Course, lesson_id: str) -> tuple[Module, Lesson]:
    if not lesson_id.strip():
        raise InvalidArgument.field("lesson_id", "is required")
    found = _content(course).lesson(lesson_id)
    if found is None:
        raise NotFound(f"no lesson {lesson_id} in course {course.id}")
    return found


def enrolled_lesson(
    uow: EducationUnitOfWork, caller: Caller, course_id: str, lesson_id: str, *, for_update: bool
) -> tuple[Course, Enrollment, Lesson]:
    """A lesson of a course the caller is enrolled in (and entitled to)."""
    course, enrollment = _enrolled(uow, caller, course_id, for_update=for_update)
    return course, enrollment, _lesson(course, lesson_id)[1]


def _standings(uow: EducationUnitOfWork, course: Course, user_id: str) -> list[QuizStanding]:
    attempts = uow.attempts.of_course(user_id, course.id)
    out = []
    for _, lesson in _content(course).lessons():
        if lesson.quiz is None:
            continue
        mine = [a for a in attempts if a.lesson_id == lesson.id]
        out.append(
            QuizStanding(
                lesson.id,
                len(mine),
                max((a.score_percent for a in mine), default=0),
                any(a.passed for a in mine),
            )
        )
    return out


def progress_of(uow: EducationUnitOfWork, course: Course, enrollment: Enrollment) -> Progress:
    lessons = [lesson.id for _, lesson in _content(course).lessons()]
    done = set(enrollment.completed_lesson_ids)
    remaining = [x for x in lessons if x not in done]
    percent = 100 * (len(lessons) - len(remaining)) // len(lessons) if lessons else 0
    if enrollment.last_lesson_id in remaining:
        resume = enrollment.last_lesson_id
    else:
        resume = remaining[0] if remaining else (lessons[-1] if lessons else "")
    return Progress(
        course=course,
        enrollment=enrollment,
        percent_complete=percent,
        resume_lesson_id=resume,
        quizzes=_standings(uow, course, enrollment.user_id),
        certificate=uow.certificates.of(enrollment.user_id, course.id),
        forecasts=uow.forecasts.of_course(enrollment.user_id, course.id),
    )


def _finish_if_complete(
    edu: Education, uow: EducationUnitOfWork, course: Course, enrollment: Enrollment, client: Client
) -> Certificate | None:
    """Every lesson done: the course is complete, and an active learner earns the certificate."""
    lessons = {lesson.id for _, lesson in _content(course).lessons()}
    if not lessons <= set(enrollment.completed_lesson_ids):
        return None
    now = edu.now()
    if enrollment.completed_at is None:
        enrollment.completed_at = now
    if uow.certificates.of(enrollment.user_id, course.id) is not None:
        return None
    person = uow.people.get(enrollment.user_id)
    if person is None or not person.active:
        # A suspended learner earns no certificate.
        return None
    certificate = Certificate(
        code=certificate_code(),
        user_id=person.id,
        course_id=course.id,
        course_title=_content(course).title,
        learner_name=person.display_name or "Learner",
        issued_at=now,
    )
    uow.certificates.add(certificate)
    edu.record(
        uow,
        "education.certificate.issued",
        client,
        actor_id=person.id,
        subject_id=person.id,
        after={
            "course_id": course.id,
            "course_title": certificate.course_title,
            "learner_name": person.display_name,
        },
    )
    return certificate


def _enrollment_of(uow: EducationUnitOfWork, caller: Caller, course_id: str) -> Enrollment:
    enrollment = uow.enrollments.get(caller.subject, course_id, for_update=True)
    assert enrollment is not None, "add() refused only because the row exists"
    return enrollment


async def enroll(edu: Education, caller: Caller, course_id: str, client: Client) -> Progress:
    def work(uow: EducationUnitOfWork) -> Progress:
        course = visible(uow, course_id)
        _entitled(caller, course)
        enrollment = uow.enrollments.get(caller.subject, course.id, for_update=True)
        if enrollment is None:
            if course.status != PUBLISHED:
                raise FailedPrecondition(f"course {course.id} is archived: it takes no new learners")
            now = edu.now()
            enrollment = Enrollment(
                user_id=caller.subject, course_id=course.id, enrolled_at=now, updated_at=now
            )
            if not uow.enrollments.add(enrollment):  # a concurrent call enrolled first: theirs counts
                return progress_of(uow, course, _enrollment_of(uow, caller, course.id))
            edu.record(
                uow,
                "education.enrollment.created",
                client,
                actor_id=caller.subject,
                subject_id=caller.subject,
                after={"course_id": course.id, "tier": _content(course).tier, "plan": caller.plan},
            )
        return progress_of(uow, course, enrollment)

    return await edu.transactions.run(work)


async def get_progress(edu: Education, caller: Caller, course_id: str) -> Progress:
    def work(uow: EducationUnitOfWork) -> Progress:
        course, enrollment = _enrolled(uow, caller, course_id)
        return progress_of(uow, course, enrollment)

    return await edu.transactions.run(work)


async def list_enrollments(
    edu: Education, caller: Caller, page_size: int, page_token: str
) -> tuple[list[Progress], str]:
    size = paging.page_size(page_size, default=50, maximum=100)
    offset = offset_of(page_token)

    def work(uow: EducationUnitOfWork) -> tuple[list[Progress], str]:
        enrollments = uow.enrollments.of_user(caller.subject, limit=size + 1, offset=offset)
        more = len(enrollments) > size
        out = []
        for enrollment in enrollments[:size]:
            course = uow.courses.get(enrollment.course_id)
            if course is not None and course.published is not None:
                out.append(progress_of(uow, course, enrollment))
        return out, paging.encode({"o": offset + size}) if more else ""

    return await edu.transactions.run(work)


async def open_lesson(edu: Education, caller: Caller, course_id: str, lesson_id: str) -> LessonView:
    """The lesson, remembered as where to resume."""

    def work(uow: EducationUnitOfWork) -> LessonView:
        course, enrollment = _enrolled(uow, caller, course_id)
        module, lesson = _lesson(course, lesson_id)
        order = [x.id for _, x in _content(course).lessons()]
        at = order.index(lesson.id)
        if enrollment.last_lesson_id != lesson.id:
            enrollment.last_lesson_id = lesson.id
            enrollment.updated_at = edu.now()
            uow.enrollments.save(enrollment)
        return LessonView(
            course_id=course.id,
            module=module,
            lesson=lesson,
            previous_lesson_id=order[at - 1] if at > 0 else "",
            next_lesson_id=order[at + 1] if at + 1 < len(order) else "",
        )

    return await edu.transactions.run(work)


async def complete_lesson(
    edu: Education, caller: Caller, course_id: str, lesson_id: str, client: Client
) -> Completion:
    def work(uow: EducationUnitOfWork) -> Completion:
        course, enrollment = _enrolled(uow, caller, course_id)
        _, lesson = _lesson(course, lesson_id)
        if lesson.quiz is not None:
            raise FailedPrecondition(f"lesson {lesson.id} is done when its quiz is passed")
        certificate = None
        if lesson.id not in enrollment.completed_lesson_ids:
            enrollment.completed_lesson_ids.append(lesson.id)
            enrollment.updated_at = edu.now()
            certificate = _finish_if_complete(edu, uow, course, enrollment, client)
            uow.enrollments.save(enrollment)
        return Completion(progress_of(uow, course, enrollment), certificate)

    return await edu.transactions.run(work)


async def submit_quiz(
    edu: Education, caller: Caller, course_id: str, lesson_id: str, answers: list[Answer], client: Client
) -> QuizResult:
    def work(uow: EducationUnitOfWork) -> QuizResult:
        course, enrollment = _enrolled(uow, caller, course_id)
        _, lesson = _lesson(course, lesson_id)
        quiz = lesson.quiz
        if quiz is None:
            raise FailedPrecondition(f"lesson {lesson.id} has no quiz")
        earlier = uow.attempts.of_lesson(caller.subject, course.id, lesson.id)
        if quiz.max_attempts and len(earlier) >= quiz.max_attempts:
            raise FailedPrecondition(f"no attempt left: this quiz allows {quiz.max_attempts}")
        score, grades = grade(quiz, answers)
        passed = score >= quiz.passing_score_percent
        now = edu.now()
        attempt = QuizAttempt(
            user_id=caller.subject,
            course_id=course.id,
            lesson_id=lesson.id,
            number=len(earlier) + 1,
            score_percent=score,
            passed=passed,
            submitted_at=now,
        )
        uow.attempts.add(attempt)
        certificate = None
        if passed and lesson.id not in enrollment.completed_lesson_ids:
            enrollment.completed_lesson_ids.append(lesson.id)
            certificate = _finish_if_complete(edu, uow, course, enrollment, client)
        enrollment.updated_at = now
        uow.enrollments.save(enrollment)
        left = -1 if not quiz.max_attempts else quiz.max_attempts - attempt.number
        ever_passed = passed or any(a.passed for a in earlier)
        return QuizResult(
            score_percent=score,
            passed=passed,
            attempts_used=attempt.number,
            attempts_left=left,
            grades=grades,
            answers_revealed=ever_passed or left == 0,
            completion=Completion(progress_of(uow, course, enrollment), certificate),
        )

    return await edu.transactions.run(work)


async def my_certificates(edu: Education, caller: Caller) -> list[Certificate]:
    return await edu.transactions.run(lambda uow: uow.certificates.of_user(caller.subject))


async def verify_certificate(edu: Education, code: str) -> Certificate:
    code = code.strip().upper()
    if not code:
        raise InvalidArgument.field("code", "is required")
    certificate = await edu.transactions.run(
        lambda uow: uow.certificates.by_code(code) if len(code) <= 32 else None
    )
    if certificate is None:
        raise NotFound("no certificate has this verification code")
    return certificate
