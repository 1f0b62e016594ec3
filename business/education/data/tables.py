"""Education's tables, in the `education` schema (no schema on SQLite). A course keeps its draft
and published revisions as JSON documents; the catalogue table holds the published revision's
searchable fields (plus, per dialect, its full-text index: see data/search.py and migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from business.shared.database import Base, UtcDateTime

SCHEMA = "education"
_IN_SCHEMA = {"schema": SCHEMA}
RowId = BigInteger().with_variant(Integer(), "sqlite")


class CourseRow(Base):
    __tablename__ = "courses"
    __table_args__ = _IN_SCHEMA

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # The draft's title, to list an author's courses by title.
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(BigInteger)
    published_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    published: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # [[user_id, display_name], ...] of the draft's instructors.
    instructors: Mapped[list[list[str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CourseInstructorRow(Base):
    """Who may edit a course (its draft's instructors)."""

    __tablename__ = "course_instructors"
    __table_args__ = _IN_SCHEMA

    course_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class CatalogueRow(Base):
    """A published course in the catalogue (archived courses leave it)."""

    __tablename__ = "catalogue"
    __table_args__ = _IN_SCHEMA

    course_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16), index=True)
    tier: Mapped[str] = mapped_column(String(8), index=True)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class CourseTagRow(Base):
    __tablename__ = "catalogue_tags"
    __table_args__ = _IN_SCHEMA

    course_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class EnrollmentRow(Base):
    __tablename__ = "enrollments"
    __table_args__ = _IN_SCHEMA

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    course_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_lesson_ids: Mapped[list[str]] = mapped_column(JSON)
    last_lesson_id: Mapped[str] = mapped_column(String(40), default="")
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class QuizAttemptRow(Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        # One row per attempt number: two concurrent submissions cannot both be attempt n.
        UniqueConstraint("user_id", "course_id", "lesson_id", "number", name="uq_quiz_attempts_number"),
        _IN_SCHEMA,
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    course_id: Mapped[str] = mapped_column(String(36))
    lesson_id: Mapped[str] = mapped_column(String(40))
    number: Mapped[int] = mapped_column(Integer)
    score_percent: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CertificateRow(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id", name="uq_certificates_user_course"),
        _IN_SCHEMA,
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    course_id: Mapped[str] = mapped_column(String(36))
    course_title: Mapped[str] = mapped_column(String(200))
    learner_name: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ForecastAnswerRow(Base):
    """A learner's scored answer to a forecast block: the first one counts (migration 0006)."""

    __tablename__ = "forecast_answers"
    __table_args__ = _IN_SCHEMA

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    course_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    lesson_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    block_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    predicted: Mapped[str] = mapped_column(String(8))
    actual: Mapped[str] = mapped_column(String(8))
    model_predicted: Mapped[str] = mapped_column(String(8))
    correct: Mapped[bool] = mapped_column(Boolean)
    model_correct: Mapped[bool] = mapped_column(Boolean)
    close_at_window_end: Mapped[float] = mapped_column(Float)
    close_after: Mapped[float] = mapped_column(Float)
    outcome_bar_time: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    model_note: Mapped[str] = mapped_column(String(300), default="")
