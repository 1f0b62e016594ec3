"""Identity: users, OAuth identities, sessions, refresh tokens, backup codes, one-time codes,
and the append-only audit log (audit.events).

Revision ID: 0002_identity
Revises: 0001_schemas
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_identity"
down_revision = "0001_schemas"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _audit_schema() -> str | None:
    # SQLite (local runs) has no schemas: the audit table lives next to the others there.
    return "audit" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("display_name", sa.String(80), nullable=False, server_default=""),
        sa.Column("phone_number", sa.String(16), unique=True),
        sa.Column("phone_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("role", sa.String(16), nullable=False, server_default="user"),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("plan", sa.String(32), nullable=False, server_default="free"),
        sa.Column("totp_secret_encrypted", sa.Text),
        sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("totp_last_step", sa.BigInteger),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("last_login_at", nullable=True),
        sa.Column("suspended_reason", sa.String(500)),
    )
    op.create_index("ix_users_role", "users", ["role"])
    op.create_index("ix_users_status", "users", ["status"])
    op.create_index("ix_users_created_at", "users", ["created_at"])

    op.create_table(
        "oauth_identities",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        _ts("created_at"),
    )
    op.create_index("ix_oauth_identities_user_id", "oauth_identities", ["user_id"])

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(300), nullable=False, server_default=""),
        _ts("created_at"),
        _ts("last_used_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.Column("revoke_reason", sa.String(64)),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])

    op.create_table(
        "refresh_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id"), nullable=False),
        _ts("issued_at"),
        _ts("expires_at"),
        _ts("spent_at", nullable=True),
    )
    op.create_index("ix_refresh_tokens_session_id", "refresh_tokens", ["session_id"])

    op.create_table(
        "backup_codes",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        _ts("used_at", nullable=True),
    )

    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id")),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False, server_default=""),
        sa.Column("target", sa.String(254), nullable=False, server_default=""),
        _ts("created_at"),
        _ts("expires_at"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _ts("consumed_at", nullable=True),
    )
    op.create_index("ix_one_time_codes_user_id", "one_time_codes", ["user_id"])
    op.create_index("ix_one_time_codes_digest", "one_time_codes", ["digest"])

    schema = _audit_schema()
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        _ts("at"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("subject_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(300), nullable=False, server_default=""),
        sa.Column("request_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
        sa.Column("detail", sa.JSON),
        schema=schema,
    )
    for column in ("at", "action", "actor_id", "subject_id"):
        op.create_index(f"ix_events_{column}", "events", [column], schema=schema)

    if schema is not None:
        # Append-only for real: not even the service's own role can rewrite history.
        op.execute(
            """
            CREATE FUNCTION audit.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit.events is append-only';
            END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events "
            "FOR EACH ROW EXECUTE FUNCTION audit.events_append_only()"
        )
    else:
        # SQLite (local runs): the same guarantee with its own trigger syntax.
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'audit.events is append-only'); END"
            )


def downgrade() -> None:
    schema = _audit_schema()
    if schema is not None:
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON audit.events")
        op.execute("DROP FUNCTION IF EXISTS audit.events_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS events_no_{verb}")
    op.drop_table("events", schema=schema)
    for table in (
        "one_time_codes",
        "backup_codes",
        "refresh_tokens",
        "sessions",
        "oauth_identities",
        "users",
    ):
        op.drop_table(table)
