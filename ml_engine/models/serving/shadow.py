"""Shadow versions: a candidate version of a model loaded next to the active one, run on the same
inputs off the users' path (predictions/forecaster.py), never answering a request.

`ShadowRegistry.start(name, version)` is the seam for anything that produces a candidate (the
admin RPC StartShadow, a retraining job): it loads and warms the version like an activation does,
in a worker thread, then makes it the model's shadow with one assignment. A shadow runs its
session directly (no micro-batcher, no share of the active version's stats): once per bar and
ensemble, in a background task.

Shadows are recorded with the model's choices (choices.py): each other engine starts and ends the
same shadow on its next file-watch pass (`follow`), so any replica answers for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import numpy as np

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.choices import Choice, OwnWrites, ProcessChoices, VersionChoices, read_choices
from ml_engine.models.serving.errors import ModelLoadError
from ml_engine.models.serving.inputs import model_input
from ml_engine.models.serving.registry import Inference, ModelRegistry, check_input
from ml_engine.models.serving.repository import VersionFile, parse_version, scan
from ml_engine.models.serving.session import ModelSession, load_session
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger("ml_engine.serving")


@dataclass(frozen=True)
class ShadowVersion:
    name: str
    session: ModelSession
    started_at: float

    @property
    def version(self) -> str:
        return str(self.session.version)


class ShadowRegistry:
    def __init__(
        self, registry: ModelRegistry, settings: MlEngineSettings, choices: VersionChoices | None = None
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.choices: VersionChoices = choices if choices is not None else ProcessChoices()
        self._shadows: dict[str, ShadowVersion] = {}
        self._lock = asyncio.Lock()
        # Signature of the file of each (model, version) another engine's shadow failed to load
        # here: not tried again until the file changes.
        self._failed: dict[tuple[str, int], tuple[int, int]] = {}
        # Choices read before this engine's own shadow start or end landed are not followed.
        self._own = OwnWrites()
        # A version that becomes active (ActivateModelVersion, the file watch) stops being a shadow:
        # the shadow would run the active version a second time and record it as a candidate.
        registry.on_swap(self._version_activated)

    # ---- the seam: start, stop, look-up -----------------------------------------------------

    async def start(self, name: str, version: str) -> ShadowVersion:
        """Load and warm up `version` of model `name`, then run it in shadow (replacing the model's
        previous shadow). The active version cannot be its own shadow."""
        self.registry.served(name)  # NotFound for an unknown model
        number = parse_version(version)
        if number is None:
            raise InvalidArgument.field(
                "version", f'must be a version folder number such as "2", got {version!r}'
            )
        async with self._lock, self._own.writing():
            # A retraining job may have just written the folder: look at the disk, not the last scan.
            found = (await asyncio.to_thread(scan, self.registry.root)).get(name)
            files = {v.version: v for v in found.versions} if found is not None else {}
            if number not in files:
                on_disk = ", ".join(str(v) for v in sorted(files)) or "none"
                raise InvalidArgument.field(
                    "version", f"model {name} has no version {number} (on disk: {on_disk})"
                )
            self._refuse_the_active_version(name, number)
            try:
                session = await asyncio.to_thread(load_session, name, files[number], self.settings)
            except ModelLoadError as error:
                raise FailedPrecondition(
                    f"version {number} of model {name} cannot run in shadow: {error.reason}"
                ) from None
            # An activation may have made it the active version while it loaded.
            self._refuse_the_active_version(name, number)
            shadow = ShadowVersion(name, session, time.time())
            await self._record(shadow)
            self._shadows[name] = shadow
            return shadow

    async def _record(self, shadow: ShadowVersion) -> None:
        """For the other engines; a shadow that cannot be recorded does not start here either."""
        try:
            await asyncio.to_thread(
                self.choices.choose_shadow, shadow.name, shadow.session.version, shadow.started_at
            )
        except Exception as error:
            log.warning("shadow not recorded", extra={"model": shadow.name, "error": str(error)})
            raise DependencyUnavailable(
                f"the shadow of model {shadow.name} could not be recorded for the other engines; retry"
            ) from error

    def _refuse_the_active_version(self, name: str, number: int) -> None:
        active = self.registry.served(name).active
        if active is not None and active.session.version == number:
            raise FailedPrecondition(f"version {number} is the active version of model {name}")

    def _version_activated(self, name: str, version: int) -> None:
        shadow = self._shadows.get(name)
        if shadow is not None and shadow.session.version == version:
            del self._shadows[name]
            log.info(
                "shadow ended: its version is now the active one", extra={"model": name, "version": version}
            )

    async def stop(self, name: str) -> str:
        """End the shadow of `name` here and on every engine; the version it ran (NotFound when
        there is none). A shadow this engine does not run (not followed yet, or its version cannot
        load here) is ended all the same."""
        async with self._own.writing():
            local = self._shadows.get(name)
            if local is not None:
                await self._end_recorded(name, None)  # first: with the store away, it keeps running
                self._shadows.pop(name, None)
                return local.version
            recorded = (await self._recorded_choices()).get(name)
            if recorded is None or recorded.shadow is None:
                raise NotFound(f"model {name} has no shadow version")
            if not await self._end_recorded(name, recorded.shadow):
                raise NotFound(f"model {name} has no shadow version")
            return str(recorded.shadow)

    async def _recorded_choices(self) -> dict[str, Choice]:
        try:
            return await asyncio.to_thread(self.choices.chosen)
        except Exception as error:
            raise DependencyUnavailable("the shadows of the other engines cannot be read; retry") from error

    async def claim(self, shadow: ShadowVersion) -> bool:
        """Ends `shadow` on every engine, for a promotion: True for the one engine whose call ended
        it (two engines deciding to promote it at once: one promotes, the other follows)."""
        async with self._own.writing():
            return await self._end_recorded(shadow.name, shadow.session.version)

    async def restore(self, shadow: ShadowVersion) -> None:
        """A claimed shadow whose promotion failed goes on, on every engine (unless the store is
        away: then it ends on the others)."""
        async with self._own.writing():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self.choices.choose_shadow, shadow.name, shadow.session.version, shadow.started_at
                )

    async def _end_recorded(self, name: str, version: int | None) -> bool:
        try:
            return await asyncio.to_thread(self.choices.end_shadow, name, version)
        except Exception as error:
            log.warning("shadow end not recorded", extra={"model": name, "error": str(error)})
            raise DependencyUnavailable(
                f"the end of model {name}'s shadow could not be recorded for the other engines; retry"
            ) from error

    def drop(self, name: str) -> None:
        """Ends the shadow of `name` in this engine only (it was ended on all of them)."""
        self._shadows.pop(name, None)
        self._own.wrote()

    async def follow(self) -> None:
        """Starts and ends shadows as other engines recorded them (called after each file-watch
        pass). A version that cannot load here is logged and not tried again until its file
        changes."""
        mark = self._own.mark()
        chosen = await read_choices(self.choices)
        if chosen is None or self._own.stale(mark):
            return  # the store away, or read before a start or stop of this engine's own: next pass
        for name in sorted(self._shadows.keys() - chosen.keys()):
            self._end_followed(name)
        for name, choice in sorted(chosen.items()):
            current = self._shadows.get(name)
            model = self.registry.find(name)
            active = model.active.session.version if model is not None and model.active else None
            wanted = choice.shadow if choice.shadow != active else None
            if wanted is None:
                if current is not None:
                    self._end_followed(name)
                continue
            if current is not None and current.session.version == wanted:
                continue
            file = model.files.get(wanted) if model is not None else None
            if file is None or self._failed.get((name, wanted)) == file.signature:
                continue
            await self._start_followed(name, file, choice.shadow_started_at, mark)

    def _end_followed(self, name: str) -> None:
        shadow = self._shadows.pop(name, None)
        if shadow is not None:
            log.info("shadow ended on another engine", extra={"model": name, "version": shadow.version})

    async def _start_followed(self, name: str, file: VersionFile, started_at: float, mark: int) -> None:
        async with self._lock:
            if self._own.stale(mark):
                return
            try:
                session = await asyncio.to_thread(load_session, name, file, self.settings)
            except ModelLoadError as error:
                self._failed[(name, file.version)] = file.signature
                log.error(
                    "another engine's shadow cannot run here: %s",
                    error.reason,
                    extra={"model": name, "version": file.version},
                )
                return
            if self._own.stale(mark):
                return
            self._shadows[name] = ShadowVersion(name, session, started_at)
            log.info("shadow started on another engine", extra={"model": name, "version": file.version})

    def get(self, name: str) -> ShadowVersion | None:
        return self._shadows.get(name)

    def require(self, name: str) -> ShadowVersion:
        shadow = self._shadows.get(name)
        if shadow is None:
            raise NotFound(f"model {name} has no shadow version")
        return shadow

    def shadows(self) -> list[ShadowVersion]:
        return [self._shadows[n] for n in sorted(self._shadows)]

    def names(self) -> frozenset[str]:
        return frozenset(self._shadows)

    # ---- inference, off the request path ----------------------------------------------------

    async def infer_last_row(self, name: str, features: np.ndarray) -> Inference:
        """The shadow version's prediction as of the last row of `features`, normalised with its
        own metadata; one direct run in a worker thread."""
        shadow = self.require(name)
        session = shadow.session
        x = check_input(name, session.metadata, model_input(session.metadata, features))
        started = time.perf_counter()
        values = await asyncio.to_thread(session.run, x)
        return Inference(
            values,
            name,
            str(session.version),
            session.file_sha256,
            session.provider,
            (time.perf_counter() - started) * 1000,
            session.metadata,
        )
