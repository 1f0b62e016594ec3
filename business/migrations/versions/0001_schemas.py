"""Create the seed's seven PostgreSQL schemas.

Revision ID: 0001_schemas
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from business.shared.database import SCHEMAS

revision = "0001_schemas"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite (local runs) has no schemas; tables there live in one file.
    if op.get_bind().dialect.name != "postgresql":
        return
    for schema in SCHEMAS:
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for schema in reversed(SCHEMAS):
        if schema != "public":
            op.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
