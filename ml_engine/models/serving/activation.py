"""Which version of each model serves: every model of the repository loaded at start (the version
chosen for it, else its highest version that can serve), admin activation, and the file watch that
picks up a new version folder, all without failing requests in flight. Each activation is recorded
as the model's choice (choices.py), which the file watch of every other engine process follows.

A swap is atomic from the event loop's point of view: the new version is loaded and warmed up in
a worker thread first (session.load_session), then one assignment makes it the registry's active
version; requests already queued on the old version's batcher finish there before its session is
released."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.batcher import MicroBatcher
from ml_engine.models.serving.choices import Choice, OwnWrites, ProcessChoices, VersionChoices, read_choices
from ml_engine.models.serving.errors import ModelLoadError
from ml_engine.models.serving.registry import (
    ActiveVersion,
    ModelEntry,
    ModelRegistry,
    ServedModel,
    VersionStatus,
)
from ml_engine.models.serving.repository import MANUAL_ACTIVATION_FILE, RepositoryModel, parse_version, scan
from ml_engine.models.serving.session import ModelSession, ModelState, load_session, peek_metadata
from ml_engine.shared.run_to_end import RunToEnd
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument

log = logging.getLogger("ml_engine.serving")

T = TypeVar("T")
# Run after each file-watch pass (the shadows follow theirs, reading the choices themselves).
ChoicesFollower = Callable[[], Awaitable[None]]

# The largest version recorded as a choice (parse_version's nine digits).
MAX_CHOSEN_VERSION = 999_999_999


@dataclass
class _Versions:
    """The activation's bookkeeping for one model."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Versions the file watch found after start: activated automatically once their file is stable.
    candidates: set[int] = field(default_factory=set)
    # Signature of each version's file when its load failed: retried only once the file changes.
    failed: dict[int, tuple[int, int]] = field(default_factory=dict)


class VersionActivation:
    def __init__(
        self, registry: ModelRegistry, settings: MlEngineSettings, choices: VersionChoices | None = None
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.choices: VersionChoices = choices if choices is not None else ProcessChoices()
        self._followers: list[ChoicesFollower] = []
        # A snapshot of the choices is followed only if no choice of this engine's own moved
        # meanwhile: read during an activation here, it would take the activation back.
        self._own = OwnWrites()
        # Choices this engine made that the store did not take (a blip): written again on each
        # pass, and their models are not taken back to the stored choice meanwhile.
        self._unrecorded: dict[str, int] = {}
        self._versions: dict[str, _Versions] = {}
        self._previous_scan: dict[tuple[str, int], tuple[int, int]] = {}
        self._watch: asyncio.Task[None] | None = None
        # Activations run to their end even after their caller went (see run_to_end).
        self._finishing = RunToEnd()

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every model of the repository (each one's chosen version, else its highest version
        that can serve)."""
        root = self.registry.root
        scanned = await asyncio.to_thread(scan, root)
        self._remember(scanned)
        chosen = await asyncio.to_thread(self.choices.chosen)
        for repo_model in scanned.values():
            model = self._add_model(repo_model)
            await self._load_chosen_or_best(model, chosen.get(model.name, Choice()))
        await self._peek_unloaded()
        self.registry.started = True
        models = self.registry.served_models()
        serving = sum(1 for m in models if m.active is not None)
        log.info(
            "model repository loaded",
            extra={"repository": str(root), "models": len(models), "serving": serving},
        )
        if not models:
            log.warning(
                "the model repository holds no model (run `make train`)", extra={"repository": str(root)}
            )
        if self.settings.ml_model_watch_interval_s > 0:
            self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        # An activation in progress ends first (its load cannot be interrupted anyway), so the
        # version it swapped in is closed below with the others.
        await self._finishing.wait()
        for model in self.registry.served_models():
            if model.active is not None:
                await model.active.batcher.close()

    # ---- admin activation -------------------------------------------------------------------

    async def run_to_end(self, work: Coroutine[Any, Any, T]) -> T:
        """Runs `work` (an activation and what records it: marker, audit) to its end, whatever
        happens to the caller: cut short, an activation would leave a version LOADING for good, or
        serving with the old one still shown READY, its MANUAL_ACTIVATION marker left (a restart
        would go back) and no audit entry."""
        return await self._finishing.run(work)

    async def activate(self, name: str, version: str) -> ModelEntry:
        """Load and warm up `version`, then make it the one serving `name`; runs to the end even
        when the caller is cancelled (see run_to_end)."""
        return await self.run_to_end(self._activate(name, version))

    async def _activate(self, name: str, version: str) -> ModelEntry:
        async with self._own.writing():
            return await self._activate_and_record(name, version)

    async def _activate_and_record(self, name: str, version: str) -> ModelEntry:
        model = self.registry.served(name)
        number = parse_version(version)
        if number is None:
            raise InvalidArgument.field(
                "version", f'must be a version folder number such as "1", got {version!r}'
            )
        # The admin may have just copied the folder in: look at the disk, not the last scan.
        found = (await asyncio.to_thread(scan, self.registry.root)).get(name)
        if found is not None:
            self._update_files(model, found)
        if number not in model.files:
            on_disk = ", ".join(str(v) for v in sorted(model.files)) or "none"
            raise InvalidArgument.field(
                "version", f"model {name} has no version {number} (on disk: {on_disk})"
            )
        serving = str(model.active.session.version) if model.active else "none"
        if not await self._activate_version(model, number, cause="activation"):
            reason = model.status[number].reason
            raise FailedPrecondition(
                f"version {number} of model {name} cannot serve: {reason}; version {serving} keeps serving"
            )
        # Recorded even when it already served here: a retry after the store failed records it.
        await self._record_choice(name, number)
        await asyncio.to_thread(_forget_manual_marker, model.files[number].path.parent)
        return self.registry.entry(name)

    async def _record_choice(self, name: str, number: int) -> None:
        """The other engines follow it, and a restart keeps it."""
        if not await self._recorded(name, number):
            raise DependencyUnavailable(
                f"version {number} of model {name} serves on this engine, but the choice could not be "
                "recorded for the other engines yet (it is written again on each file-watch pass); "
                "retry the activation"
            )

    async def _recorded(self, name: str, number: int) -> bool:
        """Writes the choice; a failure leaves it to be written again on the next pass."""
        self._own.wrote()
        try:
            await asyncio.to_thread(self.choices.choose, name, number, _newest(self.registry.served(name)))
        except Exception as error:
            self._unrecorded[name] = number
            log.warning(
                "model choice not recorded", extra={"model": name, "version": number, "error": str(error)}
            )
            return False
        if self._unrecorded.get(name) == number:
            del self._unrecorded[name]
        return True

    async def _record_again(self) -> None:
        for name, number in sorted(self._unrecorded.items()):
            await self._recorded(name, number)

    # ---- load, warm up, swap ----------------------------------------------------------------

    async def _activate_version(self, model: ServedModel, number: int, *, cause: str) -> bool:
        versions = self._versions[model.name]
        async with versions.lock:
            if model.active is not None and model.active.session.version == number:
                return True
            previous = model.status.get(number, VersionStatus(str(number), ModelState.AVAILABLE))
            model.status[number] = replace(previous, state=ModelState.LOADING, reason="")
            try:
                return await self._load_and_swap(model, number, previous, cause)
            finally:
                # Cancelled mid-load (the engine stopping): the version is not LOADING for good.
                if model.status.get(number, previous).state is ModelState.LOADING:
                    model.status[number] = previous

    async def _load_and_swap(
        self, model: ServedModel, number: int, previous: VersionStatus, cause: str
    ) -> bool:
        file = model.files[number]
        versions = self._versions[model.name]
        try:
            session = await asyncio.to_thread(load_session, model.name, file, self.settings)
        except Exception as error:  # ModelLoadError, or anything unexpected from a bad file
            reason = error.reason if isinstance(error, ModelLoadError) else f"{type(error).__name__}: {error}"
            model.status[number] = replace(previous, state=ModelState.FAILED, reason=reason)
            versions.failed[number] = file.signature
            log.error(
                "model version FAILED: %s",
                reason,
                extra={"model": model.name, "version": number, "cause": cause},
            )
            return False
        versions.failed.pop(number, None)
        await self._swap(model, session, cause)
        return True

    async def _swap(self, model: ServedModel, session: ModelSession, cause: str) -> None:
        """Make the loaded, warmed-up `session` the active version (one assignment), then retire
        the old one once the requests queued on it are served."""
        old = model.active
        self.registry.generation += 1
        model.active = ActiveVersion(
            session,
            MicroBatcher(
                session.run,
                model.stats,
                enabled=self.settings.ml_batching,
                max_size=self.settings.ml_batch_max_size,
                max_delay_s=self.settings.ml_batch_max_delay_ms / 1000,
                arrivals=self.registry.arrivals.of(model.name),
            ),
        )
        model.status[session.version] = VersionStatus(
            str(session.version),
            session.state,
            session.reason,
            session.intended_provider,
            session.provider,
            session.file_sha256,
            session.metadata,
            session.loaded_at,
        )
        self.registry.swapped(model.name, session.version)
        log.info(
            "model version activated",
            extra={
                "model": model.name,
                "from_version": old.session.version if old else None,
                "to_version": session.version,
                "state": session.state.value,
                "provider": session.provider,
                "cause": cause,
            },
        )
        if old is not None:
            try:
                # Requests queued on the old version finish there; then its session is released.
                await old.batcher.close()
            finally:
                # It no longer serves, even when the drain is cut short (the engine stopping).
                was = model.status.get(old.session.version)
                if was is not None:
                    model.status[old.session.version] = replace(
                        was, state=ModelState.AVAILABLE, reason="", loaded_at=None
                    )

    async def _load_chosen_or_best(self, model: ServedModel, choice: Choice) -> None:
        """The chosen version, unless a newer one came since (a new image ships it): that one is
        the engine's new choice, recorded for the others."""
        newest = _newest(model)
        shipped_since = newest is not None and choice.newest_then is not None and newest > choice.newest_then
        chosen = choice.version if not shipped_since and choice.version in model.files else None
        if chosen is not None and await self._activate_version(model, chosen, cause="start, chosen"):
            return
        await self._load_best(model)
        if shipped_since and model.active is not None:
            await self._record_watched_choice(model.name, model.active.session.version)

    async def _load_best(self, model: ServedModel) -> None:
        for number in sorted(model.files, reverse=True):
            if model.files[number].manual:
                continue  # a training run's version: only an admin activates it
            if await self._activate_version(model, number, cause="start"):
                return

    # ---- file watch -------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ml_model_watch_interval_s)
            try:
                await self.refresh()
            except Exception:  # the watch must outlive a bad scan
                log.exception("model repository scan failed")

    async def refresh(self) -> None:
        """One file-watch pass: pick up new models and versions; activate a new higher version
        once its file has stayed the same for two scans (a copy in progress is not loaded); then
        follow the versions chosen by other engines."""
        scanned = await asyncio.to_thread(scan, self.registry.root)
        for name, repo_model in scanned.items():
            model = self.registry.find(name)
            if model is None:
                model = self._add_model(repo_model)
                self._versions[name].candidates.update(model.files)
                log.info("new model found", extra={"model": name, "versions": sorted(model.files)})
            else:
                self._update_files(model, repo_model)
            await self._activate_candidates(model)
        self._remember(scanned)
        await self._record_again()
        mark = self._own.mark()
        chosen = await read_choices(self.choices)
        if chosen is not None:
            await self._follow_versions(chosen, mark)
        for follower in self._followers:
            await follower()
        await self._peek_unloaded()

    def follow_choices(self, follower: ChoicesFollower) -> None:
        """`follower()` after each file-watch pass."""
        self._followers.append(follower)

    async def _follow_versions(self, chosen: dict[str, Choice], mark: int) -> None:
        """Serve each model's chosen version where another engine chose it (an activation, a
        promotion, a rollback). A version this engine cannot load stays FAILED and is not tried
        again until its file changes; the serving version keeps serving."""
        for name, choice in sorted(chosen.items()):
            if self._own.stale(mark):
                return  # read before a choice of this engine's own landed: the next pass reads again
            model, number = self.registry.find(name), choice.version
            if model is None or number is None or number not in model.files or name in self._unrecorded:
                continue
            if model.active is not None and model.active.session.version == number:
                continue
            if self._versions[name].failed.get(number) == model.files[number].signature:
                continue
            await self._activate_version(model, number, cause="chosen on another engine")

    async def _activate_candidates(self, model: ServedModel) -> None:
        candidates = self._versions[model.name].candidates
        serving = model.active.session.version if model.active else -1
        for number in sorted(candidates, reverse=True):
            file = model.files.get(number)
            if file is None or number <= serving or file.manual:
                candidates.discard(number)
                continue
            if self._previous_scan.get((model.name, number)) != file.signature:
                return  # still being written (or first seen in this scan): next pass
            if self._versions[model.name].failed.get(number) == file.signature:
                candidates.discard(number)
                continue
            candidates.discard(number)
            log.info("new model version found", extra={"model": model.name, "version": number})
            if await self._activate_version(model, number, cause="file watch"):
                await self._record_watched_choice(model.name, number)
                return

    async def _record_watched_choice(self, name: str, number: int) -> None:
        """A version the file watch activated becomes the choice, so that following the choices
        does not take it back to an older chosen one."""
        if number <= MAX_CHOSEN_VERSION:
            await self._recorded(name, number)

    # ---- the repository on disk -------------------------------------------------------------

    def _add_model(self, repo_model: RepositoryModel) -> ServedModel:
        model = ServedModel(
            repo_model.name,
            repo_model.folder,
            {v.version: v for v in repo_model.versions},
            {v.version: VersionStatus(str(v.version), ModelState.AVAILABLE) for v in repo_model.versions},
        )
        self.registry.add(model)
        self._versions[model.name] = _Versions()
        return model

    def _update_files(self, model: ServedModel, repo_model: RepositoryModel) -> None:
        versions = self._versions[model.name]
        for file in repo_model.versions:
            known = model.files.get(file.version)
            model.files[file.version] = file
            if known is None:
                model.status[file.version] = VersionStatus(str(file.version), ModelState.AVAILABLE)
                versions.candidates.add(file.version)
            elif versions.failed.get(file.version) not in (None, file.signature):
                versions.candidates.add(file.version)  # a failed version was rewritten: try again
        serving = model.active.session.version if model.active else None
        for gone in set(model.files) - {v.version for v in repo_model.versions}:
            if gone == serving:
                log.warning(
                    "the serving version's folder disappeared; it keeps serving from memory",
                    extra={"model": model.name, "version": gone},
                )
                continue
            model.files.pop(gone)
            model.status.pop(gone, None)
            versions.candidates.discard(gone)

    def _remember(self, scanned: dict[str, RepositoryModel]) -> None:
        self._previous_scan = {(n, v.version): v.signature for n, m in scanned.items() for v in m.versions}

    async def _peek_unloaded(self) -> None:
        """Metadata of versions on disk that are not loaded, so listings show their card figures."""
        for model in self.registry.served_models():
            for number, status in list(model.status.items()):
                if status.metadata is not None or status.state is not ModelState.AVAILABLE or status.reason:
                    continue
                file = model.files.get(number)
                if file is None:
                    continue
                try:
                    meta = await asyncio.to_thread(peek_metadata, file.path)
                except ModelLoadError as error:
                    model.status[number] = replace(status, reason=error.reason)
                    continue
                current = model.status.get(number)
                if current is not None and current.state is ModelState.AVAILABLE:
                    model.status[number] = replace(current, metadata=meta)


def _forget_manual_marker(version_folder: Path) -> None:
    """Promoted by an admin: from now on the file watch and a start with no recorded choice may
    pick it like any other version. A read-only repository (an image) keeps its marker, and the
    recorded choice is what holds."""
    marker = version_folder / MANUAL_ACTIVATION_FILE
    if not marker.exists():
        return
    try:
        marker.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:  # a read-only file system: EROFS, even for a file that is gone
        log.info("manual-activation marker kept", extra={"path": str(marker), "error": str(error)})


def _newest(model: ServedModel) -> int | None:
    """The newest version on disk that may serve without an admin (a training run's waits for one)."""
    return max((number for number, file in model.files.items() if not file.manual), default=None)
