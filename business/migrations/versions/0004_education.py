"""Education: courses (draft and published revisions), instructors, the catalogue with its
full-text index, enrolments, quiz attempts and certificates, in the `education` schema.

Full-text search: a weighted tsvector column with a GIN index on PostgreSQL, an FTS5 table on
SQLite (business/education/data/search.py).

Revision ID: 0004_education
Revises: 0003_refresh_successors
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_education"
down_revision = "0003_refresh_successors"
branch_labels = None
depends_on = None

TABLES = (
    "certificates",
    "quiz_attempts",
    "enrollments",
    "catalogue_tags",
    "catalogue",
    "course_instructors",
    "courses",
)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    schema = "education" if _postgres() else None
    op.create_table(
        "courses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(80), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("published_revision", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("draft", sa.JSON, nullable=False),
        sa.Column("published", sa.JSON),
        sa.Column("instructors", sa.JSON, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("published_at", nullable=True),
        schema=schema,
    )
    op.create_table(
        "course_instructors",
        sa.Column("course_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
        schema=schema,
    )
    op.create_index("ix_course_instructors_user_id", "course_instructors", ["user_id"], schema=schema)
    op.create_table(
        "catalogue",
        sa.Column("course_id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        _ts("published_at"),
        schema=schema,
    )
    for column in ("level", "tier", "published_at"):
        op.create_index(f"ix_catalogue_{column}", "catalogue", [column], schema=schema)
    op.create_table(
        "catalogue_tags",
        sa.Column("course_id", sa.String(36), primary_key=True),
        sa.Column("tag", sa.String(32), primary_key=True),
        schema=schema,
    )
    op.create_index("ix_catalogue_tags_tag", "catalogue_tags", ["tag"], schema=schema)
    op.create_table(
        "enrollments",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("course_id", sa.String(36), primary_key=True),
        _ts("enrolled_at"),
        sa.Column("completed_lesson_ids", sa.JSON, nullable=False),
        sa.Column("last_lesson_id", sa.String(40), nullable=False, server_default=""),
        _ts("completed_at", nullable=True),
        _ts("updated_at"),
        schema=schema,
    )
    op.create_index("ix_enrollments_course_id", "enrollments", ["course_id"], schema=schema)
    op.create_index("ix_enrollments_updated_at", "enrollments", ["updated_at"], schema=schema)
    op.create_table(
        "quiz_attempts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("course_id", sa.String(36), nullable=False),
        sa.Column("lesson_id", sa.String(40), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("score_percent", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        _ts("submitted_at"),
        sa.UniqueConstraint("user_id", "course_id", "lesson_id", "number", name="uq_quiz_attempts_number"),
        schema=schema,
    )
    op.create_index("ix_quiz_attempts_user_id", "quiz_attempts", ["user_id"], schema=schema)
    op.create_table(
        "certificates",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("course_id", sa.String(36), nullable=False),
        sa.Column("course_title", sa.String(200), nullable=False),
        sa.Column("learner_name", sa.String(80), nullable=False),
        _ts("issued_at"),
        sa.UniqueConstraint("user_id", "course_id", name="uq_certificates_user_course"),
        schema=schema,
    )
    op.create_index("ix_certificates_user_id", "certificates", ["user_id"], schema=schema)
    if schema is not None:
        op.execute(
            "ALTER TABLE education.catalogue ADD COLUMN document tsvector NOT NULL DEFAULT ''::tsvector"
        )
        op.execute("CREATE INDEX ix_catalogue_document ON education.catalogue USING GIN (document)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE course_search USING fts5("
            "course_id UNINDEXED, title, tags, summary, body, tokenize = 'porter unicode61')"
        )


def downgrade() -> None:
    schema = "education" if _postgres() else None
    if schema is None:
        op.execute("DROP TABLE IF EXISTS course_search")
    for table in TABLES:
        op.drop_table(table, schema=schema)
