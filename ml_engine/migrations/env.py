"""Alembic environment of the market data store."""

from service_runtime.migrations import run_environment

run_environment()
