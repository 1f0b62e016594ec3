"""The models the engine serves: every model of the repository loaded at start (its highest
version that can serve), per-version state, hot reload (admin activation or a new version folder
found by the file watch) without failing requests in flight, and per-model stats.

A swap is atomic from the event loop's point of view: the new version is loaded and warmed up in
a worker thread first, then one assignment makes it active; requests already queued on the old
version's batcher finish there before its session is released."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.batcher import BatcherClosed, MicroBatcher
from ml_engine.models.serving.errors import ModelLoadError, ModelUnavailable
from ml_engine.models.serving.repository import RepositoryModel, VersionFile, parse_version, scan
from ml_engine.models.serving.session import (
    SERVING_STATES,
    ModelSession,
    ModelState,
    load_session,
    peek_metadata,
)
from ml_engine.models.serving.stats import ModelStats
from ml_engine.predictions.domain.model_metadata import ModelMetadata
from ml_engine.status.domain import LoadedModelInfo
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger("ml_engine.serving")


@dataclass(frozen=True)
class VersionStatus:
    version: str
    state: ModelState
    reason: str = ""
    intended_provider: str = ""
    execution_provider: str = ""
    file_sha256: str = ""
    metadata: ModelMetadata | None = None
    loaded_at: float | None = None


@dataclass(frozen=True)
class ModelEntry:
    """A snapshot of one model: safe to read while the registry moves on."""

    name: str
    folder: Path
    # "" when no version serves.
    active_version: str
    state: ModelState
    reason: str
    execution_provider: str
    versions: tuple[VersionStatus, ...]

    @property
    def metadata(self) -> ModelMetadata | None:
        """The active version's metadata, else the newest version's that could be read."""
        for status in sorted(
            self.versions, key=lambda v: (v.version != self.active_version, -int(v.version))
        ):
            if status.metadata is not None:
                return status.metadata
        return None


@dataclass(frozen=True)
class Inference:
    # float64 [n, len(metadata.output_columns)], columns in metadata.output_columns order.
    values: np.ndarray
    name: str
    version: str
    file_sha256: str
    provider: str
    ms: float


@dataclass
class _Active:
    session: ModelSession
    batcher: MicroBatcher


@dataclass
class _Model:
    name: str
    folder: Path
    files: dict[int, VersionFile]
    status: dict[int, VersionStatus]
    stats: ModelStats = field(default_factory=ModelStats)
    active: _Active | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Versions the file watch found after start: activated automatically once their file is stable.
    candidates: set[int] = field(default_factory=set)
    # Signature of each version's file when its load failed: retried only once the file changes.
    failed: dict[int, tuple[int, int]] = field(default_factory=dict)


def check_input(name: str, meta: ModelMetadata, x: np.ndarray) -> np.ndarray:
    """`x` as contiguous float32 after checking it has the model's input shape [n, F] / [n, W, F]."""
    features = len(meta.feature_names)
    expected = (features,) if meta.window_bars <= 1 else (meta.window_bars, features)
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected or x.shape[0] < 1:
        raise InvalidArgument.field(
            "input",
            f"model {name} takes [n, {', '.join(map(str, expected))}] rows, got shape {list(x.shape)}",
        )
    return np.ascontiguousarray(x, dtype=np.float32)


class ModelRegistry:
    def __init__(self, settings: MlEngineSettings) -> None:
        self.settings = settings
        self.root = Path(settings.model_path)
        self._models: dict[str, _Model] = {}
        self._previous_scan: dict[tuple[str, int], tuple[int, int]] = {}
        self._watch: asyncio.Task[None] | None = None
        self._started = False

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every model of the repository (each one's highest version that can serve)."""
        scanned = await asyncio.to_thread(scan, self.root)
        self._remember(scanned)
        for repo_model in scanned.values():
            model = self._add_model(repo_model)
            await self._load_best(model)
        await self._peek_unloaded()
        self._started = True
        serving = sum(1 for m in self._models.values() if m.active is not None)
        log.info(
            "model repository loaded",
            extra={"repository": str(self.root), "models": len(self._models), "serving": serving},
        )
        if not self._models:
            log.warning(
                "the model repository holds no model (run `make train`)", extra={"repository": str(self.root)}
            )
        if self.settings.ml_model_watch_interval_s > 0:
            self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        for model in self._models.values():
            if model.active is not None:
                await model.active.batcher.close()

    # ---- reads ------------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [self._entry(m) for _, m in sorted(self._models.items())]

    def entry(self, name: str) -> ModelEntry:
        return self._entry(self._model(name))

    def metadata(self, name: str) -> ModelMetadata:
        return self._active(self._model(name)).session.metadata

    def is_ready(self, name: str) -> bool:
        model = self._models.get(name)
        return model is not None and model.active is not None

    def ready(self) -> bool:
        """Started and every model of the repository serving (Triton's strict readiness)."""
        return self._started and all(m.active is not None for m in self._models.values())

    def session(self, name: str, version: str = "") -> ModelSession:
        """The serving session of `name`; with `version`, only if that version is the active one."""
        model = self._model(name)
        if version:
            number = parse_version(version)
            if number is None or number not in model.files:
                raise NotFound(f"model {name} has no version {version}")
            active = self._active(model)
            if active.session.version != number:
                raise ModelUnavailable(
                    f"version {number} of model {name} is not loaded (serving version "
                    f"{active.session.version})"
                )
            return active.session
        return self._active(model).session

    def loaded(self) -> list[LoadedModelInfo]:
        infos = []
        for name, model in sorted(self._models.items()):
            entry = self._entry(model)
            stats = model.stats.snapshot()
            infos.append(
                LoadedModelInfo(
                    name=name,
                    version=entry.active_version,
                    execution_provider=entry.execution_provider,
                    state=entry.state.value,
                    requests=stats.requests,
                    latency_p50_ms=stats.latency_p50_ms,
                    latency_p99_ms=stats.latency_p99_ms,
                    mean_batch_size=stats.mean_batch_size,
                    max_batch_size=stats.max_batch_size,
                    batches=stats.batches,
                )
            )
        return infos

    # ---- inference --------------------------------------------------------------------------

    async def infer(self, name: str, x: np.ndarray) -> Inference:
        """Micro-batched with other concurrent requests for the same model."""
        model = self._model(name)
        started = time.perf_counter()
        while True:
            active = self._active(model)
            x = check_input(name, active.session.metadata, x)
            try:
                values = await active.batcher.submit(x)
            except BatcherClosed:
                continue  # swapped between reading `active` and submitting: serve on the new version
            except Exception:
                model.stats.record_request((time.perf_counter() - started) * 1000, failed=True)
                raise
            return self._inference(model, active.session, values, started)

    def infer_sync(self, name: str, x: np.ndarray, version: str = "") -> Inference:
        """One direct session run, any batch size; thread-safe (backtests, KServe)."""
        model = self._model(name)
        session = self.session(name, version)
        x = check_input(name, session.metadata, x)
        started = time.perf_counter()
        model.stats.record_batch(1)
        try:
            values = session.run(x)
        except Exception:
            model.stats.record_request((time.perf_counter() - started) * 1000, failed=True)
            raise
        return self._inference(model, session, values, started)

    def run_raw_sync(
        self, session: ModelSession, feeds: dict[str, np.ndarray], outputs: list[str]
    ) -> list[np.ndarray]:
        """Raw ONNX outputs of `session` (from `session()`), counted in the model's stats."""
        model = self._model(session.name)
        started = time.perf_counter()
        model.stats.record_batch(1)
        try:
            result = session.run_raw(feeds, outputs)
        except Exception:
            model.stats.record_request((time.perf_counter() - started) * 1000, failed=True)
            raise
        model.stats.record_request((time.perf_counter() - started) * 1000)
        return result

    # ---- activation -------------------------------------------------------------------------

    async def activate(self, name: str, version: str) -> ModelEntry:
        """Load and warm up `version`, then make it the one serving `name`."""
        model = self._model(name)
        number = parse_version(version)
        if number is None:
            raise InvalidArgument.field(
                "version", f'must be a version folder number such as "1", got {version!r}'
            )
        # The admin may have just copied the folder in: look at the disk, not the last scan.
        found = (await asyncio.to_thread(scan, self.root)).get(name)
        if found is not None:
            self._update_files(model, found)
        if number not in model.files:
            on_disk = ", ".join(str(v) for v in sorted(model.files)) or "none"
            raise InvalidArgument.field(
                "version", f"model {name} has no version {number} (on disk: {on_disk})"
            )
        if model.active is not None and model.active.session.version == number:
            return self._entry(model)
        serving = str(model.active.session.version) if model.active else "none"
        if not await self._activate_version(model, number, cause="activation"):
            reason = model.status[number].reason
            raise FailedPrecondition(
                f"version {number} of model {name} cannot serve: {reason}; version {serving} keeps serving"
            )
        return self._entry(model)

    async def _activate_version(self, model: _Model, number: int, *, cause: str) -> bool:
        async with model.lock:
            if model.active is not None and model.active.session.version == number:
                return True
            file = model.files[number]
            previous = model.status.get(number, VersionStatus(str(number), ModelState.AVAILABLE))
            model.status[number] = replace(previous, state=ModelState.LOADING, reason="")
            try:
                session = await asyncio.to_thread(load_session, model.name, file, self.settings)
            except Exception as error:  # ModelLoadError, or anything unexpected from a bad file
                reason = (
                    error.reason if isinstance(error, ModelLoadError) else f"{type(error).__name__}: {error}"
                )
                model.status[number] = replace(previous, state=ModelState.FAILED, reason=reason)
                model.failed[number] = file.signature
                log.error(
                    "model version FAILED: %s",
                    reason,
                    extra={"model": model.name, "version": number, "cause": cause},
                )
                return False
            model.failed.pop(number, None)
            old = model.active
            model.active = _Active(
                session,
                MicroBatcher(
                    session.run,
                    model.stats,
                    enabled=self.settings.ml_batching,
                    max_size=self.settings.ml_batch_max_size,
                    max_delay_s=self.settings.ml_batch_max_delay_ms / 1000,
                ),
            )
            model.status[number] = VersionStatus(
                str(number),
                session.state,
                session.reason,
                session.intended_provider,
                session.provider,
                session.file_sha256,
                session.metadata,
                session.loaded_at,
            )
            log.info(
                "model version activated",
                extra={
                    "model": model.name,
                    "from_version": old.session.version if old else None,
                    "to_version": number,
                    "state": session.state.value,
                    "provider": session.provider,
                    "cause": cause,
                },
            )
            if old is not None:
                # Requests queued on the old version finish there; then its session is released.
                await old.batcher.close()
                was = model.status.get(old.session.version)
                if was is not None:
                    model.status[old.session.version] = replace(
                        was, state=ModelState.AVAILABLE, reason="", loaded_at=None
                    )
            return True

    async def _load_best(self, model: _Model) -> None:
        for number in sorted(model.files, reverse=True):
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
        once its file has stayed the same for two scans (a copy in progress is not loaded)."""
        scanned = await asyncio.to_thread(scan, self.root)
        for name, repo_model in scanned.items():
            model = self._models.get(name)
            if model is None:
                model = self._add_model(repo_model)
                model.candidates.update(model.files)
                log.info("new model found", extra={"model": name, "versions": sorted(model.files)})
            else:
                self._update_files(model, repo_model)
            await self._activate_candidates(model)
        self._remember(scanned)
        await self._peek_unloaded()

    async def _activate_candidates(self, model: _Model) -> None:
        serving = model.active.session.version if model.active else -1
        for number in sorted(model.candidates, reverse=True):
            file = model.files.get(number)
            if file is None or number <= serving:
                model.candidates.discard(number)
                continue
            if self._previous_scan.get((model.name, number)) != file.signature:
                return  # still being written (or first seen in this scan): next pass
            if model.failed.get(number) == file.signature:
                model.candidates.discard(number)
                continue
            model.candidates.discard(number)
            log.info("new model version found", extra={"model": model.name, "version": number})
            if await self._activate_version(model, number, cause="file watch"):
                return

    # ---- internals --------------------------------------------------------------------------

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise NotFound(f"unknown model {name!r}")
        return model

    def _active(self, model: _Model) -> _Active:
        active = model.active
        if active is None:
            entry = self._entry(model)
            why = f": {entry.reason}" if entry.reason else ""
            raise ModelUnavailable(f"model {model.name} is not loaded ({entry.state.value}{why})")
        return active

    def _add_model(self, repo_model: RepositoryModel) -> _Model:
        model = _Model(
            repo_model.name,
            repo_model.folder,
            {v.version: v for v in repo_model.versions},
            {v.version: VersionStatus(str(v.version), ModelState.AVAILABLE) for v in repo_model.versions},
        )
        self._models[repo_model.name] = model
        return model

    def _update_files(self, model: _Model, repo_model: RepositoryModel) -> None:
        for file in repo_model.versions:
            known = model.files.get(file.version)
            model.files[file.version] = file
            if known is None:
                model.status[file.version] = VersionStatus(str(file.version), ModelState.AVAILABLE)
                model.candidates.add(file.version)
            elif model.failed.get(file.version) not in (None, file.signature):
                model.candidates.add(file.version)  # a failed version was rewritten: try again
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
            model.candidates.discard(gone)

    def _remember(self, scanned: dict[str, RepositoryModel]) -> None:
        self._previous_scan = {(n, v.version): v.signature for n, m in scanned.items() for v in m.versions}

    async def _peek_unloaded(self) -> None:
        """Metadata of versions on disk that are not loaded, so listings show their card figures."""
        for model in self._models.values():
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

    def _inference(
        self, model: _Model, session: ModelSession, values: np.ndarray, started: float
    ) -> Inference:
        ms = (time.perf_counter() - started) * 1000
        model.stats.record_request(ms)
        return Inference(values, model.name, str(session.version), session.file_sha256, session.provider, ms)

    def _entry(self, model: _Model) -> ModelEntry:
        versions = tuple(model.status[n] for n in sorted(model.status))
        active = model.active
        if active is not None:
            status = model.status[active.session.version]
            state, reason, provider = status.state, status.reason, status.execution_provider
        elif any(v.state is ModelState.LOADING for v in versions):
            state, reason, provider = ModelState.LOADING, "", ""
        else:
            failed = [v for v in versions if v.state is ModelState.FAILED]
            state = ModelState.FAILED if failed else ModelState.AVAILABLE
            reason = f"version {failed[-1].version}: {failed[-1].reason}" if failed else ""
            provider = ""
        assert active is None or state in SERVING_STATES
        return ModelEntry(
            model.name,
            model.folder,
            str(active.session.version) if active else "",
            state,
            reason,
            provider,
            versions,
        )
