"""Refresh tokens record their successor (digest and sealed copy): the grace window in which two
concurrent refreshes of one token both get the same new token instead of one counting as reuse.

Revision ID: 0003_refresh_successors
Revises: 0002_identity
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_refresh_successors"
down_revision = "0002_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as table:
        table.add_column(sa.Column("successor_digest", sa.String(64)))
        table.add_column(sa.Column("successor_sealed", sa.Text))
    op.create_index("ix_refresh_tokens_successor_digest", "refresh_tokens", ["successor_digest"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_successor_digest", table_name="refresh_tokens")
    with op.batch_alter_table("refresh_tokens") as table:
        table.drop_column("successor_sealed")
        table.drop_column("successor_digest")
