"""A training run's version (MANUAL_ACTIVATION in its folder) is never activated by the start-up
load or the file watch; an admin's activation serves it and removes the marker."""

from __future__ import annotations

from pathlib import Path

from ml_engine.models.serving.repository import MANUAL_ACTIVATION_FILE
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.tiny_models import write

NAME = "intraday_xgb_range_high"


async def test_only_an_admin_activates_a_training_runs_version(tmp_path: Path) -> None:
    write(tmp_path, NAME, 1)
    write(tmp_path, NAME, 2)
    (tmp_path / NAME / "2" / MANUAL_ACTIVATION_FILE).write_text("run-1\n")
    registry, activation = await start_serving(serving_settings(tmp_path))
    try:
        assert registry.entry(NAME).active_version == "1"  # the start-up load skipped version 2
        write(tmp_path, NAME, 3)
        (tmp_path / NAME / "3" / MANUAL_ACTIVATION_FILE).write_text("run-2\n")
        for _ in range(3):  # the watch activates a new version after two stable scans: not this one
            await activation.refresh()
        entry = registry.entry(NAME)
        assert entry.active_version == "1" and [v.version for v in entry.versions] == ["1", "2", "3"]

        promoted = await activation.activate(NAME, "3")
        assert promoted.active_version == "3"
        assert not (tmp_path / NAME / "3" / MANUAL_ACTIVATION_FILE).exists()
        assert (tmp_path / NAME / "2" / MANUAL_ACTIVATION_FILE).exists()
    finally:
        await activation.stop()
    # Promoted: a restarted engine serves it like any other version.
    registry, activation = await start_serving(serving_settings(tmp_path))
    try:
        assert registry.entry(NAME).active_version == "3"
    finally:
        await activation.stop()
