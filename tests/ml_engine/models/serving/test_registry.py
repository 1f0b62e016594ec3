"""The registry: load at start, states, errors, activation, hot reload under load, file watch."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.errors import ModelUnavailable
from ml_engine.models.serving.inputs import model_input
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.models.serving.session import ModelState
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.tiny_models import expected, metadata, write

ROW = np.random.default_rng(11).normal(size=(1, 23)).astype(np.float32)


async def started(repo: Path, **overrides: object) -> tuple[ModelRegistry, VersionActivation]:
    return await start_serving(serving_settings(repo, **overrides))


async def test_start_loads_the_highest_version_of_each_model(repo: Path) -> None:
    write(repo, "tab", 1)
    write(repo, "tab", 2)
    write(repo, "seq", 1, window=4)
    registry, activation = await started(repo)
    try:
        assert [e.name for e in registry.models()] == ["seq", "tab"]
        tab = registry.entry("tab")
        assert tab.active_version == "2" and tab.state is ModelState.READY
        assert tab.execution_provider == "CPUExecutionProvider"
        # The version not loaded is listed with its card figures, not loaded.
        v1 = next(v for v in tab.versions if v.version == "1")
        assert (
            v1.state is ModelState.AVAILABLE
            and v1.metadata is not None
            and v1.metadata.metrics["coverage"] == 0.8
        )
        assert registry.is_ready("tab") and registry.ready()
        result = await registry.infer("tab", ROW)
        np.testing.assert_allclose(result.values, expected(ROW, 2), rtol=1e-5, atol=1e-5)
        assert (result.name, result.version, result.provider) == ("tab", "2", "CPUExecutionProvider")
        assert len(result.file_sha256) == 64 and result.values.dtype == np.float64
        window = np.random.default_rng(2).normal(size=(3, 4, 23)).astype(np.float32)
        direct = registry.infer_sync("seq", window)
        np.testing.assert_allclose(direct.values, expected(window, 1), rtol=1e-5, atol=1e-5)
        assert registry.metadata("seq").window_bars == 4
        stats = {m.name: m for m in registry.loaded()}
        assert stats["tab"].requests == 1 and stats["seq"].requests == 1
        assert stats["tab"].state == "READY" and stats["tab"].version == "2" and stats["tab"].batches == 1
    finally:
        await activation.stop()


async def test_errors_unknown_unavailable_and_bad_input(repo: Path) -> None:
    write(repo, "good", 1)
    write(repo, "stale", 1, meta=replace(metadata("stale", 1), feature_schema_hash="0" * 64))
    registry, activation = await started(repo)
    try:
        with pytest.raises(NotFound):
            await registry.infer("nope", ROW)
        stale = registry.entry("stale")
        assert stale.state is ModelState.FAILED and "feature schema hash" in stale.reason
        assert not registry.is_ready("stale") and not registry.ready()
        with pytest.raises(ModelUnavailable, match="FAILED"):
            await registry.infer("stale", ROW)
        with pytest.raises(ModelUnavailable):
            registry.infer_sync("stale", ROW)
        with pytest.raises(InvalidArgument, match=r"\[n, 23\]"):
            await registry.infer("good", np.zeros((1, 22), np.float32))
        with pytest.raises(NotFound):
            registry.entry("nope")
        assert {m.name: m.state for m in registry.loaded()} == {"good": "READY", "stale": "FAILED"}
    finally:
        await activation.stop()


async def test_a_failed_highest_version_falls_back_to_the_next(repo: Path) -> None:
    write(repo, "m", 1)
    write(repo, "m", 2, meta=replace(metadata("m", 2), feature_schema_hash="0" * 64))
    registry, activation = await started(repo)
    try:
        entry = registry.entry("m")
        assert entry.active_version == "1"
        assert {v.version: v.state for v in entry.versions} == {"1": ModelState.READY, "2": ModelState.FAILED}
    finally:
        await activation.stop()


async def test_activate_checks_the_version(repo: Path) -> None:
    write(repo, "m", 1)
    write(repo, "m", 2)
    write(repo, "m", 3, meta=replace(metadata("m", 3), feature_schema_hash="0" * 64))
    registry, activation = await started(repo)
    try:
        assert registry.entry("m").active_version == "2"  # 3 failed at start
        for bad in ("x", "-1", ""):
            with pytest.raises(InvalidArgument) as caught:
                await activation.activate("m", bad)
            assert caught.value.violations[0].field == "version"
        with pytest.raises(InvalidArgument, match="no version 9"):
            await activation.activate("m", "9")
        with pytest.raises(NotFound):
            await activation.activate("nope", "1")
        with pytest.raises(FailedPrecondition, match=r"feature schema hash.*version 2 keeps serving"):
            await activation.activate("m", "3")
        entry = await activation.activate("m", "1")
        assert entry.active_version == "1"
        states = {v.version: v.state for v in entry.versions}
        assert states == {"1": ModelState.READY, "2": ModelState.AVAILABLE, "3": ModelState.FAILED}
        np.testing.assert_allclose(
            (await registry.infer("m", ROW)).values, expected(ROW, 1), rtol=1e-5, atol=1e-5
        )
    finally:
        await activation.stop()


async def test_hot_reload_under_concurrent_load_fails_no_request(repo: Path) -> None:
    write(repo, "m", 1)
    write(repo, "m", 2)
    registry, activation = await started(repo, ml_batch_max_delay_ms=1.0)
    await activation.activate("m", "1")
    rows = np.random.default_rng(9).normal(size=(64, 23)).astype(np.float32)
    seen: list[str] = []
    failures: list[BaseException] = []
    stop = asyncio.Event()

    async def client(i: int) -> None:
        while not stop.is_set():
            x = rows[i : i + 1]
            try:
                result = await registry.infer("m", x)
            except Exception as error:
                failures.append(error)
                continue
            # Each answer is the right one for the version that served it.
            np.testing.assert_allclose(result.values, expected(x, int(result.version)), rtol=1e-5, atol=1e-5)
            seen.append(result.version)

    async def direct_client() -> None:
        while not stop.is_set():
            try:
                result = await asyncio.to_thread(registry.infer_sync, "m", rows[:8])
                seen.append(result.version)
            except Exception as error:
                failures.append(error)

    tasks = [asyncio.create_task(client(i)) for i in range(32)] + [asyncio.create_task(direct_client())]
    try:
        for target in ("2", "1", "2", "1", "2"):
            before = len(seen)
            while len(seen) < before + 50:
                await asyncio.sleep(0.001)
            await activation.activate("m", target)
        before = len(seen)
        while len(seen) < before + 50:
            await asyncio.sleep(0.001)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await activation.stop()
    assert failures == []
    assert seen[-1] == "2" and "1" in seen and "2" in seen
    switches = sum(1 for a, b in itertools.pairwise(seen) if a != b)
    assert switches >= 5


async def test_file_watch_loads_a_new_version_once_its_file_is_stable(repo: Path) -> None:
    write(repo, "m", 1)
    registry, activation = await started(repo)
    try:
        write(repo, "m", 2)
        await activation.refresh()
        # First seen in this scan: it may still be being copied, so not loaded yet.
        assert registry.entry("m").active_version == "1"
        assert {v.version: v.state for v in registry.entry("m").versions}["2"] is ModelState.AVAILABLE
        await activation.refresh()
        assert registry.entry("m").active_version == "2"
        np.testing.assert_allclose(
            (await registry.infer("m", ROW)).values, expected(ROW, 2), rtol=1e-5, atol=1e-5
        )
        # A broken new version is marked FAILED, not retried while unchanged, and 2 keeps serving.
        write(repo, "m", 3, meta=replace(metadata("m", 3), feature_schema_hash="0" * 64))
        await activation.refresh()
        await activation.refresh()
        await activation.refresh()
        entry = registry.entry("m")
        assert (
            entry.active_version == "2"
            and {v.version: v.state for v in entry.versions}["3"] is ModelState.FAILED
        )
        # A whole new model folder is picked up too.
        write(repo, "other", 1)
        await activation.refresh()
        await activation.refresh()
        assert registry.is_ready("other")
        # An older version activated by an admin is not overridden by the watch.
        await activation.activate("m", "1")
        await activation.refresh()
        assert registry.entry("m").active_version == "1"
    finally:
        await activation.stop()


async def test_the_background_watch_activates_a_copied_version_folder(repo: Path, tmp_path: Path) -> None:
    write(repo, "m", 1)
    staging = tmp_path / "staging"
    write(staging, "m", 5)
    registry, activation = await started(repo, ml_model_watch_interval_s=0.05)
    try:
        shutil.copytree(staging / "m" / "5", repo / "m" / "5")
        for _ in range(400):
            if registry.entry("m").active_version == "5":
                break
            await asyncio.sleep(0.025)
        assert registry.entry("m").active_version == "5"
        assert (await registry.infer("m", ROW)).version == "5"
    finally:
        await activation.stop()


@pytest.mark.parametrize("batching", [True, False], ids=["batching", "no-batching"])
async def test_an_ensembles_members_run_at_once_each_as_alone(repo: Path, batching: bool) -> None:
    """infer_last_rows queues every member in one step: the same answers as one at a time; an
    unknown member fails the call and leaves nothing queued behind it."""
    write(repo, "tab", 1)
    write(repo, "seq", 1, window=4)
    registry, activation = await started(repo, ml_batching=batching)
    features = np.random.default_rng(4).normal(size=(12, 23))
    try:
        together = await registry.infer_last_rows(["tab", "seq"], features)
        alone = [await registry.infer_last_row(name, features) for name in ("tab", "seq")]
        assert [(r.name, r.version) for r in together] == [("tab", "1"), ("seq", "1")]
        for both, one in zip(together, alone, strict=True):
            np.testing.assert_allclose(both.values, one.values, rtol=1e-6)
        tab = registry.metadata("tab")
        np.testing.assert_allclose(
            together[0].values, expected(model_input(tab, features), 1), rtol=1e-5, atol=1e-5
        )
        with pytest.raises(NotFound):
            await registry.infer_last_rows(["tab", "nope"], features)
        stats = {m.name: m for m in registry.loaded()}
        assert (stats["tab"].requests, stats["seq"].requests) == (2, 2)  # the cancelled one never ran
    finally:
        await activation.stop()
