"""Shadow versions: a candidate version of a model loaded next to the active one, run on the same
inputs off the users' path (predictions/forecaster.py), never answering a request.

`ShadowRegistry.start(name, version)` is the seam for anything that produces a candidate (the
admin RPC StartShadow, a retraining job): it loads and warms the version like an activation does,
in a worker thread, then makes it the model's shadow with one assignment. A shadow runs its
session directly (no micro-batcher, no share of the active version's stats): once per bar and
ensemble, in a background task."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import numpy as np

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.errors import ModelLoadError
from ml_engine.models.serving.inputs import model_input
from ml_engine.models.serving.registry import Inference, ModelRegistry, check_input
from ml_engine.models.serving.repository import parse_version, scan
from ml_engine.models.serving.session import ModelSession, load_session
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

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
    def __init__(self, registry: ModelRegistry, settings: MlEngineSettings) -> None:
        self.registry = registry
        self.settings = settings
        self._shadows: dict[str, ShadowVersion] = {}
        self._lock = asyncio.Lock()
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
        async with self._lock:
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
            self._shadows[name] = shadow
            return shadow

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

    def stop(self, name: str) -> ShadowVersion:
        """End the shadow of `name` (NotFound when it has none)."""
        shadow = self._shadows.pop(name, None)
        if shadow is None:
            raise NotFound(f"model {name} has no shadow version")
        return shadow

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
