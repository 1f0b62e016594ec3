"""Create the first admin (or promote an existing account): the way into a fresh platform.

    python -m business.identity.admin_cli create-admin --email you@example.com [--display-name NAME]

The password is read from the terminal (twice), or from stdin with --password-stdin (scripts,
CI). The database is DATABASE_URL; migrations are applied first, so a fresh clone works.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid

from sqlalchemy.orm import Session

from business.config import BusinessSettings
from business.identity.data import repositories as repo
from business.identity.data.tables import AuditEvent, User
from business.identity.domain.audit import PROFILE_FIELDS, changes, snapshot
from business.identity.domain.context import utcnow
from business.identity.domain.passwords import PasswordHasher, check_password_policy
from business.identity.domain.validation import clean_display_name, normalize_email
from business.identity.wiring import password_hasher
from business.shared.database import BusinessStore, migrate
from service_runtime.errors import InvalidArgument


def create_admin(
    database_url: str, email: str, password: str, display_name: str = "", hasher: PasswordHasher | None = None
) -> tuple[str, bool]:
    """Creates an active, verified admin, or makes the account with this email one (its
    password is then set too). Returns (user id, created). Audited as done by "system"."""
    email = normalize_email(email)
    check_password_policy(password, email=email)
    name = clean_display_name(display_name)
    password_hash = (hasher or PasswordHasher()).hash(password)
    store = BusinessStore(database_url)

    def work(s: Session) -> tuple[str, bool]:
        now = utcnow()
        user = repo.user_by_email(s, email)
        created = user is None
        if user is None:
            user = User(
                id=str(uuid.uuid4()),
                email=email,
                display_name=name,
                phone_verified=False,
                plan="free",
                totp_enabled=False,
                created_at=now,
            )
            s.add(user)
            before: dict[str, object] = {}
        else:
            before = snapshot(user)
        user.password_hash = password_hash
        user.email_verified = True
        user.role = "admin"
        user.status = "active"
        user.suspended_reason = None
        if name:
            user.display_name = name
        user.updated_at = now
        s.flush()
        old, new = changes(before, snapshot(user, PROFILE_FIELDS))
        repo.add_audit_event(
            s,
            AuditEvent(
                at=now,
                action="admin.cli.admin_created" if created else "admin.cli.admin_promoted",
                outcome="succeeded",
                actor_id="system",
                subject_id=user.id,
                user_agent="admin-cli",
                before=repo.json_safe(old or None),
                after=repo.json_safe(new),
            ),
        )
        return user.id, created

    try:
        return store.units_of_work(lambda session: session).run_sync(work)
    finally:
        store.close()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password for the admin: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m business.identity.admin_cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create the first admin or promote an account")
    create.add_argument("--email", required=True)
    create.add_argument("--display-name", default="")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    args = parser.parse_args(argv)

    settings = BusinessSettings()
    migrate(settings.database_url)
    password = _read_password(args.password_stdin)
    try:
        user_id, created = create_admin(
            settings.database_url, args.email, password, args.display_name, password_hasher(settings)
        )
    except InvalidArgument as error:
        print(f"refused: {error.message}", file=sys.stderr)
        return 2
    print(f"{'created' if created else 'promoted'} admin {args.email} (id {user_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
