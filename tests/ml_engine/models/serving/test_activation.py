"""Activation at the edges: version text that only looks like a number, a cancelled activation, the
shadow of the version activated, a model file that cannot be read."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving import activation as activation_module
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.models.serving.repository import MANUAL_ACTIVATION_FILE, MODEL_FILE, VersionFile, scan
from ml_engine.models.serving.session import ModelSession, ModelState, load_session
from ml_engine.models.serving.shadow import ShadowRegistry
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.tiny_models import write


def slow_loads(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Loads take `seconds` longer (a big model warming up), in their worker thread."""

    def slow_load(name: str, file: VersionFile, settings: MlEngineSettings) -> ModelSession:
        time.sleep(seconds)
        return load_session(name, file, settings)

    monkeypatch.setattr(activation_module, "load_session", slow_load)


def states(registry: ModelRegistry, name: str) -> dict[str, ModelState]:
    return {v.version: v.state for v in registry.entry(name).versions}


@pytest.mark.parametrize("version", ["²", "¹²³", "٢"])
async def test_a_version_in_other_digits_is_invalid_argument_naming_version(repo: Path, version: str) -> None:
    """str.isdigit() accepts superscripts (int() refuses them: INTERNAL) and other scripts' digits
    (int("٢") is 2): version folders are named in ASCII digits, nothing else names one."""
    write(repo, "m", 1)
    write(repo, "m", 2)
    settings = serving_settings(repo)
    registry, activation = await start_serving(settings)
    try:
        with pytest.raises(InvalidArgument) as refused:
            await activation.activate("m", version)
        assert refused.value.violations[0].field == "version"
        with pytest.raises(InvalidArgument) as shadow:
            await ShadowRegistry(registry, settings).start("m", version)
        assert shadow.value.violations[0].field == "version"
        with pytest.raises(NotFound):  # KServe's probes: not a version this model has
            registry.session("m", version)
        assert registry.entry("m").active_version == "2"
    finally:
        await activation.stop()


async def test_a_stray_folder_in_other_digits_is_ignored_and_logged_once(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(repo, "m", 1)
    write(repo, "m", 2)
    stray = repo / "m" / "³"
    stray.mkdir()
    (stray / MODEL_FILE).write_bytes((repo / "m" / "1" / MODEL_FILE).read_bytes())
    caplog.set_level(logging.WARNING, logger="ml_engine.serving")
    registry, activation = await start_serving(serving_settings(repo))
    try:
        assert [v.version for v in scan(repo)["m"].versions] == [1, 2]
        entry = await activation.activate("m", "1")
        assert entry.active_version == "1" and set(states(registry, "m")) == {"1", "2"}
        await activation.refresh()  # the file watch's pass
        warned = [r for r in caplog.records if getattr(r, "folder", "") == str(stray)]
        assert len(warned) == 1 and "ASCII digits" in warned[0].getMessage()
    finally:
        await activation.stop()


async def test_a_cancelled_activation_still_ends_in_a_state(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gRPC cancels the handler when the client goes or Envoy's route timeout passes: the activation
    runs to the end anyway, and version 1 is not left LOADING."""
    write(repo, "m", 1)
    write(repo, "m", 2)
    registry, activation = await start_serving(serving_settings(repo))
    try:
        slow_loads(monkeypatch, 0.3)
        call = asyncio.create_task(activation.activate("m", "1"))
        await asyncio.sleep(0.05)
        assert states(registry, "m")["1"] is ModelState.LOADING
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        for _ in range(100):
            await asyncio.sleep(0.02)
            if states(registry, "m")["1"] is not ModelState.LOADING:
                break
        assert registry.entry("m").active_version == "1"
        assert states(registry, "m") == {"1": ModelState.READY, "2": ModelState.AVAILABLE}
    finally:
        await activation.stop()


async def test_a_cancel_while_the_old_version_drains_still_records_the_swap(repo: Path) -> None:
    """Cancelled after the swap, while requests queued on the old version finish: the old version is
    no longer shown READY and the new one's MANUAL_ACTIVATION marker goes (a restart keeps it)."""
    write(repo, "m", 1)
    write(repo, "m", 2)
    registry, activation = await start_serving(serving_settings(repo))
    write(repo, "m", 3)
    marker = repo / "m" / "3" / MANUAL_ACTIVATION_FILE
    marker.write_text("run-1\n")
    try:
        old = registry.served("m").active
        assert old is not None
        close = old.batcher.close

        async def slow_close() -> None:  # requests still queued on the old version
            await asyncio.sleep(0.3)
            await close()

        old.batcher.close = slow_close  # type: ignore[method-assign]
        call = asyncio.create_task(activation.activate("m", "3"))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if registry.entry("m").active_version == "3":
                break
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not marker.exists():
                break
        assert registry.entry("m").active_version == "3"
        assert states(registry, "m")["2"] is ModelState.AVAILABLE
        assert not marker.exists()
    finally:
        await activation.stop()


async def test_activating_the_shadowed_version_ends_its_shadow(repo: Path) -> None:
    write(repo, "m", 1)
    write(repo, "m", 2)
    write(repo, "other", 1)
    write(repo, "other", 2)
    settings = serving_settings(repo)
    registry, activation = await start_serving(settings)
    shadows = ShadowRegistry(registry, settings)
    try:
        await shadows.start("m", "1")
        await shadows.start("other", "1")
        await activation.activate("m", "1")
        assert shadows.get("m") is None  # it would run the active version a second time
        other = shadows.get("other")
        assert other is not None and other.version == "1"  # another model's shadow stays
        await activation.activate("m", "2")
        assert shadows.get("m") is None  # the old active version does not become a shadow
        with pytest.raises(FailedPrecondition, match="active version"):
            await shadows.start("m", "2")
    finally:
        await activation.stop()


async def test_a_model_file_that_cannot_be_read_fails_the_version(repo: Path) -> None:
    """An OSError on load (unreadable file, a folder named model.onnx) is a load failure: FAILED for
    an activation, FAILED_PRECONDITION for a shadow, as a file ONNX Runtime refuses is."""
    write(repo, "m", 1)
    (repo / "m" / "2" / MODEL_FILE).mkdir(parents=True)
    settings = serving_settings(repo)
    registry, activation = await start_serving(settings)
    try:
        entry = registry.entry("m")
        assert entry.active_version == "1"
        failed = next(v for v in entry.versions if v.version == "2")
        assert failed.state is ModelState.FAILED and f"cannot read {MODEL_FILE}" in failed.reason
        with pytest.raises(FailedPrecondition, match=f"cannot read {MODEL_FILE}"):
            await ShadowRegistry(registry, settings).start("m", "2")
        with pytest.raises(FailedPrecondition, match="version 1 keeps serving"):
            await activation.activate("m", "2")
    finally:
        await activation.stop()
