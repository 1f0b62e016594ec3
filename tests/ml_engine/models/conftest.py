"""Settings for serving tests: a temporary repository, CPU, small batches, no background watch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ml_engine.config import MlEngineSettings


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


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    return root
