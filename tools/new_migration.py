"""Start a new Alembic revision in a service's one migration history:

    make migration SERVICE=business NAME="education catalogue"

writes <service>/migrations/versions/NNNN_<name>.py (the next number, revising the current head),
for you to fill in with op.create_table(...) and friends."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from service_runtime.migrations import alembic_config

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("business", "ml_engine")


def next_revision_id(migrations: Path, name: str) -> str:
    numbers = [int(p.name[:4]) for p in (migrations / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")]
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return f"{max(numbers, default=0) + 1:04d}_{slug}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--service", choices=SERVICES, required=True)
    parser.add_argument("--name", required=True, help="what the revision does, e.g. 'education catalogue'")
    options = parser.parse_args()
    migrations = ROOT / options.service / "migrations"
    config = alembic_config("sqlite://", migrations)
    config.set_main_option("file_template", "%%(rev)s")  # the revision id already carries the name
    head = ScriptDirectory.from_config(config).get_current_head()
    revision = next_revision_id(migrations, options.name)
    command.revision(config, message=options.name, rev_id=revision, head=head or "base")
    print(f"{options.service}/migrations/versions/{revision}.py (revises {head})")


if __name__ == "__main__":
    main()
