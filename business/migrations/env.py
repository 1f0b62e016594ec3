"""Alembic environment of the business store."""

from service_runtime.migrations import run_environment

run_environment()
