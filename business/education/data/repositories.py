"""The education domain's ports on SQLAlchemy, over one transaction's Session (never committing
on their own). People are read from identity's users table: the one business database holds both."""

from __future__ import annotations

from sqlalchemy import case, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from business.audit.data import SqlAuditLog
from business.education.data.search import PostgresSearch, SqliteSearch
from business.education.data.tables import (
    CatalogueRow,
    CertificateRow,
    CourseInstructorRow,
    CourseRow,
    CourseTagRow,
    EnrollmentRow,
    ForecastAnswerRow,
    QuizAttemptRow,
)
from business.education.domain.entities import (
    Certificate,
    Course,
    CourseContent,
    CourseFigures,
    CourseSearch,
    Enrollment,
    ForecastAnswer,
    Instructor,
    Person,
    QuizAttempt,
)
from business.education.domain.ports import SlugTaken
from business.identity.data.tables import UserRow
from business.shared.database import inserted_first


def _course(row: CourseRow) -> Course:
    return Course(
        id=row.id,
        status=row.status,
        revision=row.revision,
        published_revision=row.published_revision,
        draft=CourseContent.from_json(row.draft),
        published=CourseContent.from_json(row.published) if row.published is not None else None,
        instructors=tuple(Instructor(i, n) for i, n in row.instructors),
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
    )


def _fill(row: CourseRow, course: Course) -> None:
    row.slug = course.draft.slug
    row.title = course.draft.title
    row.status = course.status
    row.revision = course.revision
    row.published_revision = course.published_revision
    row.draft = course.draft.to_json()
    row.published = course.published.to_json() if course.published is not None else None
    row.instructors = [[i.user_id, i.display_name] for i in course.instructors]
    row.updated_at = course.updated_at
    row.published_at = course.published_at


class SqlCourses:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, course_id: str, *, for_update: bool = False) -> Course | None:
        statement = select(CourseRow).where(CourseRow.id == course_id)
        row = self.session.scalars(statement.with_for_update() if for_update else statement).first()
        return _course(row) if row else None

    def by_slug(self, slug: str) -> Course | None:
        row = self.session.scalars(select(CourseRow).where(CourseRow.slug == slug)).first()
        return _course(row) if row else None

    def _instructors(self, course: Course) -> None:
        self.session.execute(delete(CourseInstructorRow).where(CourseInstructorRow.course_id == course.id))
        self.session.add_all(
            CourseInstructorRow(course_id=course.id, user_id=u) for u in course.draft.instructor_ids
        )

    def _flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as error:
            raise SlugTaken(str(error.orig)) from None

    def add(self, course: Course) -> None:
        row = CourseRow(id=course.id, created_at=course.created_at)
        _fill(row, course)
        self.session.add(row)
        self._flush()
        self._instructors(course)
        self.session.flush()

    def save(self, course: Course) -> None:
        row = self.session.get(CourseRow, course.id)
        assert row is not None, "save() takes a course read in this unit of work"
        _fill(row, course)
        self._flush()
        self._instructors(course)
        self.session.flush()

    def authored(self, instructor_id: str | None, *, limit: int, offset: int) -> list[Course]:
        statement = select(CourseRow)
        if instructor_id is not None:
            statement = statement.join(
                CourseInstructorRow, CourseInstructorRow.course_id == CourseRow.id
            ).where(CourseInstructorRow.user_id == instructor_id)
        rows = self.session.scalars(
            statement.order_by(CourseRow.title, CourseRow.id).limit(limit).offset(offset)
        )
        return [_course(r) for r in rows]


class SqlCatalogue:
    def __init__(self, session: Session) -> None:
        self.session = session
        dialect = session.get_bind().dialect.name
        self.text = PostgresSearch(session) if dialect == "postgresql" else SqliteSearch(session)

    def index(self, course: Course) -> None:
        content = course.published
        assert content is not None and course.published_at is not None
        self.remove(course.id)
        self.session.add(
            CatalogueRow(
                course_id=course.id,
                title=content.title,
                level=content.level,
                tier=content.tier,
                published_at=course.published_at,
            )
        )
        self.session.add_all(CourseTagRow(course_id=course.id, tag=t) for t in content.tags)
        self.session.flush()
        self.text.index(course.id, content)

    def remove(self, course_id: str) -> None:
        self.text.remove(course_id)
        self.session.execute(delete(CourseTagRow).where(CourseTagRow.course_id == course_id))
        self.session.execute(delete(CatalogueRow).where(CatalogueRow.course_id == course_id))

    def search(self, query: CourseSearch, *, limit: int, offset: int) -> list[Course]:
        ids = self.text.search(query, limit=limit, offset=offset)
        rows = {r.id: r for r in self.session.scalars(select(CourseRow).where(CourseRow.id.in_(ids)))}
        return [_course(rows[i]) for i in ids if i in rows]


def _enrollment(row: EnrollmentRow) -> Enrollment:
    return Enrollment(
        user_id=row.user_id,
        course_id=row.course_id,
        enrolled_at=row.enrolled_at,
        completed_lesson_ids=list(row.completed_lesson_ids),
        last_lesson_id=row.last_lesson_id,
        completed_at=row.completed_at,
        updated_at=row.updated_at,
    )


class SqlEnrollments:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: str, course_id: str, *, for_update: bool = False) -> Enrollment | None:
        statement = select(EnrollmentRow).where(
            EnrollmentRow.user_id == user_id, EnrollmentRow.course_id == course_id
        )
        row = self.session.scalars(statement.with_for_update() if for_update else statement).first()
        return _enrollment(row) if row else None

    def add(self, enrollment: Enrollment) -> bool:
        """False when a concurrent call enrolled this learner first (the row is theirs)."""
        row = EnrollmentRow(user_id=enrollment.user_id, course_id=enrollment.course_id)
        self._fill(row, enrollment)
        return inserted_first(self.session, row)

    def save(self, enrollment: Enrollment) -> None:
        row = self.session.get(EnrollmentRow, (enrollment.user_id, enrollment.course_id))
        assert row is not None, "save() takes an enrolment read in this unit of work"
        self._fill(row, enrollment)
        self.session.flush()

    @staticmethod
    def _fill(row: EnrollmentRow, enrollment: Enrollment) -> None:
        row.enrolled_at = enrollment.enrolled_at
        row.completed_lesson_ids = list(enrollment.completed_lesson_ids)
        row.last_lesson_id = enrollment.last_lesson_id
        row.completed_at = enrollment.completed_at
        row.updated_at = enrollment.updated_at or enrollment.enrolled_at

    def of_user(self, user_id: str, *, limit: int, offset: int) -> list[Enrollment]:
        rows = self.session.scalars(
            select(EnrollmentRow)
            .where(EnrollmentRow.user_id == user_id)
            .order_by(EnrollmentRow.updated_at.desc(), EnrollmentRow.course_id)
            .limit(limit)
            .offset(offset)
        )
        return [_enrollment(r) for r in rows]


def _attempt(row: QuizAttemptRow) -> QuizAttempt:
    return QuizAttempt(
        user_id=row.user_id,
        course_id=row.course_id,
        lesson_id=row.lesson_id,
        number=row.number,
        score_percent=row.score_percent,
        passed=row.passed,
        submitted_at=row.submitted_at,
    )


class SqlQuizAttempts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_course(self, user_id: str, course_id: str) -> list[QuizAttempt]:
        rows = self.session.scalars(
            select(QuizAttemptRow)
            .where(QuizAttemptRow.user_id == user_id, QuizAttemptRow.course_id == course_id)
            .order_by(QuizAttemptRow.id)
        )
        return [_attempt(r) for r in rows]

    def of_lesson(self, user_id: str, course_id: str, lesson_id: str) -> list[QuizAttempt]:
        return [a for a in self.of_course(user_id, course_id) if a.lesson_id == lesson_id]

    def add(self, attempt: QuizAttempt) -> None:
        self.session.add(
            QuizAttemptRow(
                user_id=attempt.user_id,
                course_id=attempt.course_id,
                lesson_id=attempt.lesson_id,
                number=attempt.number,
                score_percent=attempt.score_percent,
                passed=attempt.passed,
                submitted_at=attempt.submitted_at,
            )
        )
        self.session.flush()


def _certificate(row: CertificateRow) -> Certificate:
    return Certificate(
        code=row.code,
        user_id=row.user_id,
        course_id=row.course_id,
        course_title=row.course_title,
        learner_name=row.learner_name,
        issued_at=row.issued_at,
    )


class SqlCertificates:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of(self, user_id: str, course_id: str) -> Certificate | None:
        row = self.session.scalars(
            select(CertificateRow).where(
                CertificateRow.user_id == user_id, CertificateRow.course_id == course_id
            )
        ).first()
        return _certificate(row) if row else None

    def by_code(self, code: str) -> Certificate | None:
        row = self.session.get(CertificateRow, code)
        return _certificate(row) if row else None

    def of_user(self, user_id: str) -> list[Certificate]:
        rows = self.session.scalars(
            select(CertificateRow)
            .where(CertificateRow.user_id == user_id)
            .order_by(CertificateRow.issued_at.desc())
        )
        return [_certificate(r) for r in rows]

    def add(self, certificate: Certificate) -> None:
        self.session.add(
            CertificateRow(
                code=certificate.code,
                user_id=certificate.user_id,
                course_id=certificate.course_id,
                course_title=certificate.course_title[:200],
                learner_name=certificate.learner_name[:80],
                issued_at=certificate.issued_at,
            )
        )
        self.session.flush()


def _forecast(row: ForecastAnswerRow) -> ForecastAnswer:
    return ForecastAnswer(
        user_id=row.user_id,
        course_id=row.course_id,
        lesson_id=row.lesson_id,
        block_id=row.block_id,
        predicted=row.predicted,
        actual=row.actual,
        model_predicted=row.model_predicted,
        close_at_window_end=row.close_at_window_end,
        close_after=row.close_after,
        outcome_bar_time=row.outcome_bar_time,
        answered_at=row.answered_at,
        model_note=row.model_note,
    )


class SqlForecastAnswers:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of(self, user_id: str, course_id: str, lesson_id: str, block_id: str) -> ForecastAnswer | None:
        if len(lesson_id) > 40 or len(block_id) > 40:
            return None
        row = self.session.get(ForecastAnswerRow, (user_id, course_id, lesson_id, block_id))
        return _forecast(row) if row else None

    def of_course(self, user_id: str, course_id: str) -> list[ForecastAnswer]:
        rows = self.session.scalars(
            select(ForecastAnswerRow)
            .where(ForecastAnswerRow.user_id == user_id, ForecastAnswerRow.course_id == course_id)
            .order_by(ForecastAnswerRow.answered_at)
        )
        return [_forecast(r) for r in rows]

    def add(self, answer: ForecastAnswer) -> bool:
        row = ForecastAnswerRow(
            user_id=answer.user_id,
            course_id=answer.course_id,
            lesson_id=answer.lesson_id,
            block_id=answer.block_id,
            predicted=answer.predicted,
            actual=answer.actual,
            model_predicted=answer.model_predicted,
            correct=answer.correct,
            model_correct=answer.model_correct,
            close_at_window_end=answer.close_at_window_end,
            close_after=answer.close_after,
            outcome_bar_time=answer.outcome_bar_time,
            answered_at=answer.answered_at,
            model_note=answer.model_note,
        )
        return inserted_first(self.session, row)  # False: a concurrent call kept an answer first


class SqlFigures:
    def __init__(self, session: Session) -> None:
        self.session = session

    def per_course(self, *, limit: int, offset: int) -> list[CourseFigures]:
        enrolled = (
            select(
                EnrollmentRow.course_id.label("course_id"),
                func.count().label("enrollments"),
                func.count(EnrollmentRow.completed_at).label("completions"),
            )
            .group_by(EnrollmentRow.course_id)
            .subquery()
        )
        attempts = (
            select(
                QuizAttemptRow.course_id.label("course_id"),
                func.count().label("attempts"),
                func.sum(case((QuizAttemptRow.passed, 1), else_=0)).label("passed"),
            )
            .group_by(QuizAttemptRow.course_id)
            .subquery()
        )
        certificates = (
            select(CertificateRow.course_id.label("course_id"), func.count().label("certificates"))
            .group_by(CertificateRow.course_id)
            .subquery()
        )
        forecasts = (
            select(
                ForecastAnswerRow.course_id.label("course_id"),
                func.count().label("answers"),
                func.sum(case((ForecastAnswerRow.correct, 1), else_=0)).label("correct"),
            )
            .group_by(ForecastAnswerRow.course_id)
            .subquery()
        )
        enrollments = func.coalesce(enrolled.c.enrollments, 0)
        rows = self.session.execute(
            select(
                CourseRow.id,
                CourseRow.slug,
                CourseRow.title,
                CourseRow.status,
                enrollments,
                func.coalesce(enrolled.c.completions, 0),
                func.coalesce(attempts.c.attempts, 0),
                func.coalesce(attempts.c.passed, 0),
                func.coalesce(certificates.c.certificates, 0),
                func.coalesce(forecasts.c.answers, 0),
                func.coalesce(forecasts.c.correct, 0),
            )
            .outerjoin(enrolled, enrolled.c.course_id == CourseRow.id)
            .outerjoin(attempts, attempts.c.course_id == CourseRow.id)
            .outerjoin(certificates, certificates.c.course_id == CourseRow.id)
            .outerjoin(forecasts, forecasts.c.course_id == CourseRow.id)
            .order_by(enrollments.desc(), CourseRow.title, CourseRow.id)
            .limit(limit)
            .offset(offset)
        )
        return [CourseFigures(*(r[:4]), *(int(v) for v in r[4:])) for r in rows]


class SqlPeople:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: str) -> Person | None:
        row = self.session.get(UserRow, user_id) if len(user_id) <= 36 else None
        return Person(row.id, row.display_name, row.status == "active") if row else None


class SqlEducationUnitOfWork:
    """The domain's EducationUnitOfWork over one transaction's Session."""

    def __init__(self, session: Session) -> None:
        self.courses = SqlCourses(session)
        self.catalogue = SqlCatalogue(session)
        self.enrollments = SqlEnrollments(session)
        self.attempts = SqlQuizAttempts(session)
        self.certificates = SqlCertificates(session)
        self.forecasts = SqlForecastAnswers(session)
        self.figures = SqlFigures(session)
        self.people = SqlPeople(session)
        self.audit = SqlAuditLog(session)
