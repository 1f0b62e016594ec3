"""What education keeps: a course's content (a revision of it), the course record holding its
draft and published revisions, enrolments, quiz attempts and certificates. Plain dataclasses;
education/data maps them to and from rows (content as one JSON document per revision).

Times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

BEGINNER, INTERMEDIATE, ADVANCED = "beginner", "intermediate", "advanced"
LEVELS = (BEGINNER, INTERMEDIATE, ADVANCED)
FREE, PRO = "free", "pro"
TIERS = (FREE, PRO)
DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"
SINGLE, MULTIPLE, NUMERIC = "single_choice", "multiple_choice", "numeric"
QUESTION_KINDS = (SINGLE, MULTIPLE, NUMERIC)
CHART, SIGNAL, TRY_IT, FORECAST = "chart", "signal", "try_it", "forecast"
BLOCK_KINDS = (CHART, SIGNAL, TRY_IT, FORECAST)
UP, DOWN = "up", "down"

# Roles as the access token carries them.
ADMIN_ROLE = "admin"
INSTRUCTOR_ROLE = "instructor"


@dataclass(frozen=True)
class Choice:
    id: str
    text: str


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    prompt: str
    choices: tuple[Choice, ...] = ()
    correct_choice_ids: tuple[str, ...] = ()
    correct_number: float = 0.0
    tolerance: float = 0.0
    explanation: str = ""


@dataclass(frozen=True)
class Quiz:
    passing_score_percent: int
    max_attempts: int
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class LessonBlock:
    """A live block: the platform's market data, signal or backtest inside a lesson. One shape for
    the four kinds (`kind` says which); the fields a kind does not use stay empty."""

    id: str
    kind: str
    symbol: str = ""
    timeframe: str = ""
    caption: str = ""
    # chart: start/end bounds of the bars; try_it: start/end dates of the backtest.
    start: str = ""
    end: str = ""
    # chart
    indicators: tuple[str, ...] = ()
    # try_it
    strategy: str = ""
    params: dict[str, float] = field(default_factory=dict)
    editable_params: tuple[str, ...] = ()
    commission: float = 0.0
    # forecast
    window_end: datetime | None = None
    window_bars: int = 0
    horizon_bars: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["window_end"] = self.window_end.isoformat() if self.window_end else None
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> LessonBlock:
        end = data.get("window_end")
        return LessonBlock(
            **{
                **data,
                "indicators": tuple(data.get("indicators", ())),
                "editable_params": tuple(data.get("editable_params", ())),
                "params": dict(data.get("params", {})),
                "window_end": datetime.fromisoformat(end) if end else None,
            }
        )


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    body_markdown: str = ""
    video_url: str = ""
    video_duration_seconds: int = 0
    estimated_minutes: int = 5
    quiz: Quiz | None = None
    blocks: tuple[LessonBlock, ...] = ()


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    lessons: tuple[Lesson, ...] = ()


@dataclass(frozen=True)
class Instructor:
    user_id: str
    display_name: str


@dataclass(frozen=True)
class CourseContent:
    """One revision of a course: what an author edits and a learner reads once published."""

    title: str
    slug: str
    summary: str = ""
    level: str = BEGINNER
    tags: tuple[str, ...] = ()
    tier: str = FREE
    instructor_ids: tuple[str, ...] = ()
    cover_image_url: str = ""
    modules: tuple[Module, ...] = ()

    def lessons(self) -> list[tuple[Module, Lesson]]:
        """Every lesson with its module, in reading order."""
        return [(m, lesson) for m in self.modules for lesson in m.lessons]

    def lesson(self, lesson_id: str) -> tuple[Module, Lesson] | None:
        return next(((m, x) for m, x in self.lessons() if x.id == lesson_id), None)

    @property
    def lesson_count(self) -> int:
        return sum(len(m.lessons) for m in self.modules)

    @property
    def estimated_minutes(self) -> int:
        return sum(x.estimated_minutes for _, x in self.lessons())

    def search_text(self) -> str:
        """Lesson titles and bodies, for full-text search (titles, summary and tags go apart)."""
        return "\n".join(f"{m.title}\n{x.title}\n{x.body_markdown}" for m, x in self.lessons())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for m, module in zip(data["modules"], self.modules, strict=True):
            for x, lesson in zip(m["lessons"], module.lessons, strict=True):
                x["blocks"] = [b.to_json() for b in lesson.blocks]
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> CourseContent:
        def quiz(q: dict[str, Any] | None) -> Quiz | None:
            if q is None:
                return None
            questions = tuple(
                Question(
                    **{
                        **x,
                        "choices": tuple(Choice(**c) for c in x["choices"]),
                        "correct_choice_ids": tuple(x["correct_choice_ids"]),
                    }
                )
                for x in q["questions"]
            )
            return Quiz(q["passing_score_percent"], q["max_attempts"], questions)

        modules = tuple(
            Module(
                m["id"],
                m["title"],
                tuple(
                    Lesson(
                        **{
                            **x,
                            "quiz": quiz(x.get("quiz")),
                            "blocks": tuple(LessonBlock.from_json(b) for b in x.get("blocks", ())),
                        }
                    )
                    for x in m["lessons"]
                ),
            )
            for m in data["modules"]
        )
        return CourseContent(
            **{
                **data,
                "tags": tuple(data["tags"]),
                "instructor_ids": tuple(data["instructor_ids"]),
                "modules": modules,
            }
        )


@dataclass(kw_only=True)
class Course:
    """A course and its two revisions: the draft authors edit, the published one learners read."""

    id: str
    status: str
    # The draft's revision: every edit adds one.
    revision: int
    draft: CourseContent
    instructors: tuple[Instructor, ...]
    created_at: datetime
    updated_at: datetime
    # 0 and None until first published.
    published_revision: int = 0
    published: CourseContent | None = None
    published_at: datetime | None = None

    @property
    def has_unpublished_changes(self) -> bool:
        return self.revision != self.published_revision

    def taught_by(self, user_id: str) -> bool:
        return user_id in self.draft.instructor_ids


@dataclass(kw_only=True)
class Enrollment:
    user_id: str
    course_id: str
    enrolled_at: datetime
    completed_lesson_ids: list[str] = field(default_factory=list)
    last_lesson_id: str = ""
    completed_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class QuizAttempt:
    user_id: str
    course_id: str
    lesson_id: str
    number: int
    score_percent: int
    passed: bool
    submitted_at: datetime


@dataclass(frozen=True, kw_only=True)
class Certificate:
    code: str
    user_id: str
    course_id: str
    course_title: str
    learner_name: str
    issued_at: datetime


@dataclass(frozen=True, kw_only=True)
class ForecastAnswer:
    """A learner's scored answer to a forecast block (the first one counts)."""

    user_id: str
    course_id: str
    lesson_id: str
    block_id: str
    predicted: str
    actual: str
    model_predicted: str
    close_at_window_end: float
    close_after: float
    outcome_bar_time: datetime
    answered_at: datetime
    model_note: str = ""

    @property
    def correct(self) -> bool:
        return self.predicted == self.actual

    @property
    def model_correct(self) -> bool:
        return self.model_predicted == self.actual


@dataclass(frozen=True)
class CourseFigures:
    """How a course is doing with learners, for admins."""

    course_id: str
    slug: str
    title: str
    status: str
    enrollments: int
    completions: int
    quiz_attempts: int
    quiz_attempts_passed: int
    certificates: int
    forecast_answers: int
    forecast_answers_correct: int


@dataclass(frozen=True)
class CourseSearch:
    """A catalogue search: words (all required, as prefixes) and filters; empty means any."""

    text: str = ""
    level: str = ""
    tag: str = ""
    tier: str = ""


@dataclass(frozen=True)
class Person:
    """A user as education needs them: the name on certificates, whether they may earn one."""

    id: str
    display_name: str
    active: bool
