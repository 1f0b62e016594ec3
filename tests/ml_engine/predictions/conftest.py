"""The committed models, loaded once per test module by the real registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ml_engine.models.serving.registry import ModelRegistry
from tests.ml_engine.predictions.support import started_registry


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry() -> AsyncIterator[ModelRegistry]:
    registry, activation = await started_registry()
    try:
        yield registry
    finally:
        await activation.stop()
