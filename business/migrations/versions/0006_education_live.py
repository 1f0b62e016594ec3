"""Education's live blocks: learners' scored answers to forecasting exercises (the first answer
per learner and block counts), in the `education` schema. Lesson blocks themselves live in the
course revisions' JSON documents and need no table.

Revision ID: 0006_education_live
Revises: 0005_billing
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_education_live"
down_revision = "0005_billing"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _schema() -> str | None:
    return "education" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "forecast_answers",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("course_id", sa.String(36), primary_key=True),
        sa.Column("lesson_id", sa.String(40), primary_key=True),
        sa.Column("block_id", sa.String(40), primary_key=True),
        sa.Column("predicted", sa.String(8), nullable=False),
        sa.Column("actual", sa.String(8), nullable=False),
        sa.Column("model_predicted", sa.String(8), nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("model_correct", sa.Boolean, nullable=False),
        sa.Column("close_at_window_end", sa.Float, nullable=False),
        sa.Column("close_after", sa.Float, nullable=False),
        _ts("outcome_bar_time"),
        _ts("answered_at"),
        sa.Column("model_note", sa.String(300), nullable=False, server_default=""),
        schema=schema,
    )
    op.create_index("ix_forecast_answers_course_id", "forecast_answers", ["course_id"], schema=schema)


def downgrade() -> None:
    schema = _schema()
    op.drop_index("ix_forecast_answers_course_id", "forecast_answers", schema=schema)
    op.drop_table("forecast_answers", schema=schema)
