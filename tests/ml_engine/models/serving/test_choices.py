"""What is chosen for each model, shared by engines on one store (k8s runs two): an activation on one
engine is followed by the other's file watch, a restarted engine loads the chosen version before the
highest, a read-only repository keeps its markers without failing the activation, a store that is
down fails the activation's record with UNAVAILABLE (recorded by the retry), shadows started or
stopped on one engine are followed by the other, and a shadow both engines promote is promoted once."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from ml_engine.models.data.version_choices import SqlVersionChoices
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.choices import Choice
from ml_engine.models.serving.registry import ModelRegistry
from ml_engine.models.serving.repository import MANUAL_ACTIVATION_FILE
from ml_engine.models.serving.shadow import ShadowRegistry
from ml_engine.promotion.service import PromotionService
from ml_engine.shared.database import MarketStore
from service_runtime.errors import DependencyUnavailable, NotFound
from tests.ml_engine.models.conftest import serving_settings
from tests.ml_engine.models.serving.tiny_models import write


@pytest.fixture
def repo(repo: Path) -> Path:
    """The models' repository (tests/ml_engine/models/conftest.py) holding versions 1 and 2 of "m"."""
    write(repo, "m", 1)
    write(repo, "m", 2)
    return repo


async def engine_on(repo: Path, choices: SqlVersionChoices) -> tuple[ModelRegistry, VersionActivation]:
    """One engine process's serving: its own registry and activation, the shared store's choices."""
    registry = ModelRegistry(repo)
    activation = VersionActivation(registry, serving_settings(repo), choices)
    await activation.start()
    return registry, activation


async def test_an_activation_on_one_engine_is_followed_by_the_other_and_kept_by_a_restart(
    repo: Path, empty_market_store: MarketStore
) -> None:
    choices = SqlVersionChoices(empty_market_store.engine)
    registry_a, engine_a = await engine_on(repo, choices)
    registry_b, engine_b = await engine_on(repo, choices)
    try:
        assert registry_a.entry("m").active_version == registry_b.entry("m").active_version == "2"
        await engine_a.activate("m", "1")  # a rollback, made through one replica
        assert choices.chosen() == {"m": Choice(version=1, newest_then=2)}
        assert registry_b.entry("m").active_version == "2"  # until its next file-watch pass
        await engine_b.refresh()
        assert registry_b.entry("m").active_version == "1"
    finally:
        await engine_a.stop()
        await engine_b.stop()
    registry_c, restarted = await engine_on(repo, choices)
    try:
        assert registry_c.entry("m").active_version == "1"  # not the highest: the chosen one
    finally:
        await restarted.stop()


async def test_choices_read_before_this_engines_own_activation_do_not_take_it_back(
    repo: Path, empty_market_store: MarketStore
) -> None:
    """The file watch read the choices (2) just before an admin's rollback on this engine (1) landed:
    following that snapshot would swap 2 back in until the next pass."""
    choices = SqlVersionChoices(empty_market_store.engine)
    registry, engine = await engine_on(repo, choices)
    try:
        await engine.activate("m", "2")  # recorded: the stored choice is 2
        mark = engine._own.mark()
        snapshot = choices.chosen()  # the watch's read
        await engine.activate("m", "1")  # the rollback lands meanwhile
        await engine._follow_versions(snapshot, mark)
        assert registry.entry("m").active_version == "1"
    finally:
        await engine.stop()


async def test_a_version_shipped_after_the_choice_serves_once_an_engine_starts(
    repo: Path, empty_market_store: MarketStore
) -> None:
    """A rollback to 1 holds across restarts, until a new image ships version 3: the engine that
    starts on it serves 3 and records it, so the rollback does not hide every later release."""
    choices = SqlVersionChoices(empty_market_store.engine)
    _, engine = await engine_on(repo, choices)
    await engine.activate("m", "1")
    await engine.stop()
    registry, restarted = await engine_on(repo, choices)
    assert registry.entry("m").active_version == "1"
    await restarted.stop()
    write(repo, "m", 3)  # the new image
    registry, upgraded = await engine_on(repo, choices)
    try:
        assert registry.entry("m").active_version == "3"
        assert choices.chosen() == {"m": Choice(version=3, newest_then=3)}
    finally:
        await upgraded.stop()


async def test_a_read_only_repository_keeps_its_marker_and_the_choice_holds(
    repo: Path, empty_market_store: MarketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = repo / "m" / "2" / MANUAL_ACTIVATION_FILE  # a training run's version, not activated yet
    marker.touch()
    choices = SqlVersionChoices(empty_market_store.engine)
    registry, engine = await engine_on(repo, choices)
    real_unlink = Path.unlink

    def read_only_unlink(path: Path, missing_ok: bool = False) -> None:
        if path.name == MANUAL_ACTIVATION_FILE:  # the image's file system (EROFS)
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only_unlink)
    try:
        assert registry.entry("m").active_version == "1"
        entry = await engine.activate("m", "2")
        assert entry.active_version == "2" and marker.exists()
    finally:
        await engine.stop()
    registry_b, restarted = await engine_on(repo, choices)
    try:
        assert registry_b.entry("m").active_version == "2"  # chosen, marker or not
    finally:
        await restarted.stop()


async def test_a_store_that_is_down_fails_the_record_and_the_retry_records_it(
    repo: Path, tmp_path: Path
) -> None:
    store = MarketStore(f"sqlite:///{tmp_path / 'market.db'}")
    store.migrate()
    registry, engine = await engine_on(repo, SqlVersionChoices(store.engine))
    # The store goes away: a database its choices table is not in.
    engine.choices = SqlVersionChoices(create_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}"))
    try:
        with pytest.raises(DependencyUnavailable) as refused:
            await engine.activate("m", "1")
        assert "serves on this engine" in refused.value.message
        assert registry.entry("m").active_version == "1"
        engine.choices = SqlVersionChoices(store.engine)  # back
        await engine.refresh()  # the next file-watch pass writes it, and keeps 1 serving meanwhile
        assert registry.entry("m").active_version == "1"
        assert engine.choices.chosen() == {"m": Choice(version=1, newest_then=2)}
        await engine.activate("m", "1")  # an admin's retry: already serving, recorded again
        assert engine.choices.chosen() == {"m": Choice(version=1, newest_then=2)}
    finally:
        await engine.stop()
        store.close()


async def engine_with_shadows(
    repo: Path, choices: SqlVersionChoices
) -> tuple[ModelRegistry, VersionActivation, ShadowRegistry]:
    registry, activation = await engine_on(repo, choices)
    shadows = ShadowRegistry(registry, serving_settings(repo), choices)
    activation.follow_choices(shadows.follow)
    return registry, activation, shadows


async def test_a_shadow_started_or_stopped_on_one_engine_is_followed_by_the_other(
    repo: Path, empty_market_store: MarketStore
) -> None:
    choices = SqlVersionChoices(empty_market_store.engine)
    _, engine_a, shadows_a = await engine_with_shadows(repo, choices)
    _, engine_b, shadows_b = await engine_with_shadows(repo, choices)
    try:
        await engine_a.activate("m", "1")
        started = await shadows_a.start("m", "2")
        await engine_b.refresh()
        followed = shadows_b.get("m")
        assert followed is not None and followed.version == "2"
        assert followed.started_at == started.started_at  # the same shadow, whichever replica lists it
        await shadows_b.stop("m")  # StopShadow lands on the other replica
        assert shadows_b.get("m") is None and choices.chosen()["m"].shadow is None
        await engine_a.refresh()
        assert shadows_a.get("m") is None
    finally:
        await engine_a.stop()
        await engine_b.stop()


async def test_two_engines_promoting_one_shadow_promote_it_once(
    repo: Path, empty_market_store: MarketStore
) -> None:
    choices = SqlVersionChoices(empty_market_store.engine)
    registry_a, engine_a, shadows_a = await engine_with_shadows(repo, choices)
    registry_b, engine_b, shadows_b = await engine_with_shadows(repo, choices)
    settings = serving_settings(repo)
    promotion_a = PromotionService(shadows_a, engine_a, empty_market_store.engine, settings)
    promotion_b = PromotionService(shadows_b, engine_b, empty_market_store.engine, settings)
    try:
        await engine_a.activate("m", "1")
        await engine_b.refresh()
        await shadows_a.start("m", "2")
        await engine_b.refresh()
        shadow_a, shadow_b = shadows_a.require("m"), shadows_b.require("m")
        # Both reach the verdict in the same scoring pass: one claim wins.
        assert [await shadows_a.claim(shadow_a), await shadows_b.claim(shadow_b)] == [True, False]
        await promotion_a.promote("m", "system:auto-promote", claimed=shadow_a)
        with pytest.raises(NotFound):  # an admin's PromoteShadow on the other replica, after it
            await promotion_b.promote("m", "admin")
        await engine_b.refresh()
        assert registry_a.entry("m").active_version == registry_b.entry("m").active_version == "2"
        assert shadows_a.get("m") is None and shadows_b.get("m") is None
        assert choices.chosen() == {"m": Choice(version=2, newest_then=2)}
    finally:
        await engine_a.stop()
        await engine_b.stop()


async def test_a_shadow_stopped_while_the_watch_reads_the_choices_stays_stopped(
    repo: Path, empty_market_store: MarketStore
) -> None:
    """The watch's read of the choices returns just before StopShadow on this engine lands: following
    that snapshot would start the stopped shadow again, recording shadow predictions until the next
    pass."""
    loop = asyncio.get_running_loop()

    class StopLandsDuringTheRead(SqlVersionChoices):
        armed = False

        def chosen(self) -> dict[str, Choice]:
            snapshot = super().chosen()
            if self.armed:  # in the watch's worker thread: the admin's StopShadow runs meanwhile
                self.armed = False
                asyncio.run_coroutine_threadsafe(shadows.stop("m"), loop).result(10)
            return snapshot

    choices = StopLandsDuringTheRead(empty_market_store.engine)
    registry, engine = await engine_on(repo, choices)
    shadows = ShadowRegistry(registry, serving_settings(repo), choices)
    try:
        await engine.activate("m", "1")
        await shadows.start("m", "2")
        choices.armed = True
        await shadows.follow()
        assert shadows.get("m") is None and choices.chosen()["m"].shadow is None
        await shadows.follow()  # the next pass reads the choices again: still none
        assert shadows.get("m") is None
    finally:
        await engine.stop()


async def test_stop_shadow_on_an_engine_that_cannot_run_it_still_ends_it_everywhere(
    repo: Path, empty_market_store: MarketStore
) -> None:
    """The shadow's version cannot load on this engine (or it has not followed it yet): StopShadow
    landing here ends the recorded shadow all the same, instead of NOT_FOUND on every try."""
    choices = SqlVersionChoices(empty_market_store.engine)
    _, engine_a, shadows_a = await engine_with_shadows(repo, choices)
    _, engine_b, shadows_b = await engine_with_shadows(repo, choices)
    try:
        await engine_a.activate("m", "1")
        await shadows_a.start("m", "2")  # engine b has not followed it yet
        assert shadows_b.get("m") is None
        assert await shadows_b.stop("m") == "2"
        assert choices.chosen()["m"].shadow is None
        await engine_a.refresh()
        assert shadows_a.get("m") is None
        with pytest.raises(NotFound):
            await shadows_b.stop("m")
    finally:
        await engine_a.stop()
        await engine_b.stop()


async def test_stop_shadow_with_the_store_away_leaves_the_shadow_running(repo: Path, tmp_path: Path) -> None:
    """The end cannot be recorded: UNAVAILABLE, and the shadow runs on here as on the other engines
    (ending it here only, the next pass would start it again from the record)."""
    store = MarketStore(f"sqlite:///{tmp_path / 'market.db'}")
    store.migrate()
    choices = SqlVersionChoices(store.engine)
    registry, engine = await engine_on(repo, choices)
    shadows = ShadowRegistry(registry, serving_settings(repo), choices)
    try:
        await engine.activate("m", "1")
        await shadows.start("m", "2")
        shadows.choices = SqlVersionChoices(create_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}"))
        with pytest.raises(DependencyUnavailable):
            await shadows.stop("m")
        assert shadows.require("m").version == "2"
    finally:
        await engine.stop()
        store.close()
