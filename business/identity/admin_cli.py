"""Create the first admin (or promote an existing account): the way into a fresh platform.

    python -m business.identity.admin_cli create-admin --email you@example.com [--display-name NAME]

The password is read from the terminal (twice), or from stdin with --password-stdin (scripts,
CI). The database is DATABASE_URL; migrations are applied first, so a fresh clone works.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from business.config import BusinessSettings
from business.identity.data.repositories import SqlIdentityUnitOfWork
from business.identity.domain.admin import ensure_admin
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
    try:
        return store.units_of_work(SqlIdentityUnitOfWork).run_sync(
            lambda uow: ensure_admin(uow, utcnow(), email, password_hash, name)
        )
    finally:
        store.close()


class _NoPassword(Exception):
    """No password could be read: said in one line, exit code 2, never a traceback."""


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or odd stdin
        return False


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        try:
            line = sys.stdin.readline() if sys.stdin is not None else ""
        except (ValueError, OSError):
            line = ""
        password = line.rstrip("\r\n")
        if not password:
            raise _NoPassword("no password on stdin (--password-stdin reads one line)")
        return password
    if not _interactive():
        raise _NoPassword(
            "no terminal to ask for the password: pipe it in with --password-stdin "
            "(make admin EMAIL=... ARGS=--password-stdin)"
        )
    try:
        first = getpass.getpass("Password for the admin: ")
        again = getpass.getpass("Again: ")
    except (EOFError, KeyboardInterrupt):
        raise _NoPassword("no password entered") from None
    if again != first:
        raise _NoPassword("the passwords differ")
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

    try:
        # Before touching the database: a script without a terminal learns at once what to do.
        password = _read_password(args.password_stdin)
    except _NoPassword as error:
        print(f"create-admin: {error}", file=sys.stderr)
        return 2
    settings = BusinessSettings()
    migrate(settings.database_url)
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
