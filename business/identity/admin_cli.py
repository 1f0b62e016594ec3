"""Create the first admin (or promote an existing account): the way into a fresh platform.

    python -m business.identity.admin_cli create-admin --email you@example.com [--display-name NAME]

The password is read from the terminal (twice), or from stdin with --password-stdin (scripts,
CI). The database is DATABASE_URL; migrations are applied first, so a fresh clone works.
"""

from __future__ import annotations

import argparse
import asyncio
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
from service_runtime.errors import DependencyUnavailable, InvalidArgument


def create_admin(
    database_url: str, email: str, password: str, display_name: str = "", hasher: PasswordHasher | None = None
) -> tuple[str, bool]:
    """Creates an active, verified admin, or makes the account with this email one (its
    password is then set too, its sessions end). Returns (user id, created). Audited as done by
    "system". A promoted account's access tokens are left to the caller to revoke (`main` does,
    in the services' shared list: `revoke_access_tokens`)."""
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
    if not created:
        try:
            asyncio.run(revoke_access_tokens(settings, user_id))
        except DependencyUnavailable as error:
            # The promotion is stored; running the command again revokes again (idempotent).
            print(
                f"promoted admin {args.email} (id {user_id}) but its earlier access tokens are not "
                f"revoked ({error.message}): run the command again",
                file=sys.stderr,
            )
            return 1
    print(f"{'created' if created else 'promoted'} admin {args.email} (id {user_id})")
    return 0


async def revoke_access_tokens(settings: BusinessSettings, user_id: str) -> None:
    """Every access token issued to the account until now stops working, at every service: it was
    issued before the account became an admin (and its sessions ended)."""
    revocations = settings.revocations()
    try:
        await revocations.revoke_subject(user_id)
    finally:
        await revocations.close()


if __name__ == "__main__":
    raise SystemExit(main())
