"""Alembic, the same way for every service: each keeps its own migrations folder and version table."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, engine_from_config, pool, text

from service_runtime.databases import ensure_sqlite_folder, normalize_url

# How long a migration waits for another process's (s): a long migration on a big table may take a while.
MIGRATION_LOCK_WAIT_S = 600


def alembic_config(url: str, migrations_dir: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, migrations_dir: Path, revision: str = "head") -> None:
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url, migrations_dir), revision)


def run_environment() -> None:
    """The body of every migrations/env.py: run on the URL set by `alembic_config`."""
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    # One lock per service: its migrations folder's parent is the service's package (business, ml_engine).
    lock_name = f"migrate:{Path(config.get_main_option('script_location') or '').parent.name}"
    with connectable.connect() as connection:
        context.configure(connection=connection, transactional_ddl=True)
        with context.begin_transaction():
            _one_migrator_at_a_time(connection, lock_name)
            context.run_migrations()


def _one_migrator_at_a_time(connection: Connection, lock_name: str) -> None:
    """Replicas starting together (k8s runs two of each service) migrate one after the other: the
    second waits for the first, then finds nothing left to do. Before, the loser of the race on a
    table exited and was restarted. PostgreSQL: a lock held until the transaction ends (the DDL is
    in it); MySQL (no transactional DDL): a named lock held by the connection, which closes when
    the migration ends. One SQLite file serves one machine's processes, which `make run` starts
    one after the other."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": lock_name})
    elif dialect == "mysql":
        got = connection.execute(
            text("SELECT GET_LOCK(:name, :wait_s)"), {"name": lock_name, "wait_s": MIGRATION_LOCK_WAIT_S}
        ).scalar()
        if got != 1:
            raise TimeoutError(f"another process held the {lock_name} lock for {MIGRATION_LOCK_WAIT_S} s")
