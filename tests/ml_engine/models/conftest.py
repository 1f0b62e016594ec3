"""Serving for the model tests: settings (a temporary repository, CPU, small batches, no background
watch) and a started registry with its activation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import ModelRegistry


def serving_settings(root: Path, **overrides: Any) -> MlEngineSettings:
    values: dict[str, Any] = {
        "model_path": str(root),
        "ml_execution_provider": "cpu",
        "ml_intra_op_threads": 1,
        "ml_warmup_runs": 2,
        "ml_batching": True,
        "ml_batch_max_size": 16,
        "ml_batch_max_delay_ms": 5.0,
        "ml_model_watch_interval_s": 0.0,
    }
    values.update(overrides)
    return MlEngineSettings(_env_file=None, **values)  # type: ignore[call-arg]


async def start_serving(settings: MlEngineSettings) -> tuple[ModelRegistry, VersionActivation]:
    """A registry of `settings.model_path` with every model loaded (stop it with `activation.stop()`)."""
    registry = ModelRegistry(Path(settings.model_path))
    activation = VersionActivation(registry, settings)
    await activation.start()
    return registry, activation


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    return root
