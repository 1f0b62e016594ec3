"""What the education domain needs from outside, declared here and implemented in
education/data over the one business store: the repositories of an `EducationUnitOfWork` (one
transaction each) and `Transactions` to run one. Repositories never commit on their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from business.audit.domain import AuditLog
from business.education.domain.entities import (
    Certificate,
    Course,
    CourseFigures,
    CourseSearch,
    Enrollment,
    ForecastAnswer,
    Person,
    QuizAttempt,
)

T = TypeVar("T")


class SlugTaken(Exception):
    """Another course has this slug (the store's unique index said so)."""


class Courses(Protocol):
    def get(self, course_id: str, *, for_update: bool = False) -> Course | None:
        """`for_update`: the row stays locked until the unit of work ends (PostgreSQL)."""
        ...

    def by_slug(self, slug: str) -> Course | None: ...

    def add(self, course: Course) -> None:
        """Raises SlugTaken."""
        ...

    def save(self, course: Course) -> None:
        """Writes a course read in this unit of work (SlugTaken)."""
        ...

    def authored(self, instructor_id: str | None, *, limit: int, offset: int) -> list[Course]:
        """Courses taught by `instructor_id` (every course when None), by title."""
        ...


class Catalogue(Protocol):
    """The search index of published courses (FTS5 on SQLite, full-text search on PostgreSQL)."""

    def index(self, course: Course) -> None:
        """(Re)indexes the course's published revision."""
        ...

    def remove(self, course_id: str) -> None: ...

    def search(self, query: CourseSearch, *, limit: int, offset: int) -> list[Course]:
        """Matching published courses: best match first with text, newest first without."""
        ...


class Enrollments(Protocol):
    def get(self, user_id: str, course_id: str, *, for_update: bool = False) -> Enrollment | None: ...

    def add(self, enrollment: Enrollment) -> bool: ...

    def save(self, enrollment: Enrollment) -> None: ...

    def of_user(self, user_id: str, *, limit: int, offset: int) -> list[Enrollment]:
        """Most recently active first."""
        ...


class QuizAttempts(Protocol):
    def of_lesson(self, user_id: str, course_id: str, lesson_id: str) -> list[QuizAttempt]: ...

    def of_course(self, user_id: str, course_id: str) -> list[QuizAttempt]: ...

    def add(self, attempt: QuizAttempt) -> None: ...


class Certificates(Protocol):
    def of(self, user_id: str, course_id: str) -> Certificate | None: ...

    def by_code(self, code: str) -> Certificate | None: ...

    def of_user(self, user_id: str) -> list[Certificate]:
        """Newest first."""
        ...

    def add(self, certificate: Certificate) -> None: ...


class ForecastAnswers(Protocol):
    def of(self, user_id: str, course_id: str, lesson_id: str, block_id: str) -> ForecastAnswer | None: ...

    def of_course(self, user_id: str, course_id: str) -> list[ForecastAnswer]:
        """In the order they were answered."""
        ...

    def add(self, answer: ForecastAnswer) -> bool:
        """False (and nothing written) when the learner answered this block already."""
        ...


class Figures(Protocol):
    def per_course(self, *, limit: int, offset: int) -> list[CourseFigures]:
        """Every course's figures, most enrolments first."""
        ...


class People(Protocol):
    """The platform's users, read-only: names for bylines and certificates, and who is active."""

    def get(self, user_id: str) -> Person | None: ...


class EducationUnitOfWork(Protocol):
    """The repositories education's use cases use, over ONE transaction."""

    @property
    def courses(self) -> Courses: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def enrollments(self) -> Enrollments: ...

    @property
    def attempts(self) -> QuizAttempts: ...

    @property
    def certificates(self) -> Certificates: ...

    @property
    def forecasts(self) -> ForecastAnswers: ...

    @property
    def figures(self) -> Figures: ...

    @property
    def people(self) -> People: ...

    @property
    def audit(self) -> AuditLog: ...


class Transactions(Protocol):
    async def run(self, work: Callable[[EducationUnitOfWork], T]) -> T:
        """`work(unit_of_work)` in one transaction: committed if it returns, rolled back if it raises."""
        ...


# --- the ML engine: what live blocks read (education/adapters/ml_engine.py) -------------------


@dataclass(frozen=True)
class Bar:
    time: datetime
    close: float


@dataclass(frozen=True)
class ModelAnswer:
    """The model's direction as of a bar ("" when no model served it, `note` says why)."""

    direction: str
    note: str = ""
    horizon: str = ""  # the model's horizon (its bars are the block's timeframe)


class UnknownTimeframe(Exception):
    """The ML engine refused the timeframe (its message says why)."""


class MarketData(Protocol):
    """The ML engine's catalogue and history, read with a service token. Every method raises
    DependencyUnavailable when the ML engine cannot be reached."""

    async def symbols(self) -> set[str]: ...

    async def indicators(self) -> set[str]:
        """Indicator names, lower-case."""
        ...

    async def strategies(self) -> dict[str, set[str]]:
        """Strategy name -> its parameter names."""
        ...

    async def bars(self, symbol: str, timeframe: str, *, start: datetime | None, limit: int) -> list[Bar]:
        """Up to `limit` bars from `start` (the latest ones without it), oldest first; raises
        UnknownTimeframe."""
        ...

    async def model_answer(self, symbol: str, timeframe: str, as_of: datetime) -> ModelAnswer: ...
