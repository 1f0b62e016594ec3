"""The models the engine serves, as requests see them: look-up (entries, states, metadata, the
active session, per-model stats) and inference, micro-batched or direct.

Which version of a model is active is decided by activation.py (start-up load, admin activation,
file watch). An inference runs on the version active when it is submitted and carries that
version's metadata; an input built from features is normalised with that same metadata, in the
same step as the submission, so a hot reload between a caller's look-up and the run cannot mix
one version's figures with another version's graph."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, cast

import numpy as np

from ml_engine.models.serving.arrivals import Arrival, Arrivals, Landing
from ml_engine.models.serving.batcher import BatcherClosed, MicroBatcher
from ml_engine.models.serving.errors import ModelUnavailable
from ml_engine.models.serving.inputs import model_input, model_inputs_all
from ml_engine.models.serving.repository import VersionFile, parse_version
from ml_engine.models.serving.session import SERVING_STATES, ModelSession, ModelState
from ml_engine.models.serving.stats import ModelStats
from ml_engine.predictions.domain.model_metadata import ModelMetadata
from ml_engine.status.domain import LoadedModelInfo
from service_runtime.errors import InvalidArgument, NotFound

# Builds a model's input from the metadata of the version about to run it.
Prepare = Callable[[ModelMetadata], np.ndarray]


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
    # The metadata of the version that ran: its output columns, its normalisation, its provenance.
    metadata: ModelMetadata


@dataclass
class ActiveVersion:
    session: ModelSession
    batcher: MicroBatcher


@dataclass
class ServedModel:
    """One model of the repository: its version files, each version's status, and the version
    serving (activation.py swaps `active` with one assignment)."""

    name: str
    folder: Path
    files: dict[int, VersionFile]
    status: dict[int, VersionStatus]
    stats: ModelStats = field(default_factory=ModelStats)
    active: ActiveVersion | None = None


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


class _Queued(NamedTuple):
    """One input queued on a model version's batcher."""

    model: ServedModel
    active: ActiveVersion
    future: asyncio.Future[np.ndarray]


def _last_row_input(name: str, features: np.ndarray) -> Prepare:
    """The input of model `name` as of the last row of `features`, from a version's metadata."""
    return lambda meta: check_input(name, meta, model_input(meta, features))


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Set by the activation once every model of the repository has had its start-up load.
        self.started = False
        # Counts activations (activation.py bumps it on every swap): results cached from an
        # earlier count were made by versions that may no longer serve.
        self.generation = 0
        self._models: dict[str, ServedModel] = {}
        # Requests announced by callers still preparing their inputs (see arrivals.py): the
        # batchers of the models they will run wait for them.
        self.arrivals = Arrivals()
        # Told (model, version) after each swap: what depends on which version is active (a shadow
        # of the version that now serves) follows it.
        self._swap_listeners: list[Callable[[str, int], None]] = []

    # ---- swaps ------------------------------------------------------------------------------

    def on_swap(self, listener: Callable[[str, int], None]) -> None:
        self._swap_listeners.append(listener)

    def swapped(self, name: str, version: int) -> None:
        """Called by the activation once `version` serves `name`."""
        for listener in self._swap_listeners:
            listener(name, version)

    # ---- look-up ----------------------------------------------------------------------------

    def models(self) -> list[ModelEntry]:
        return [self._entry(m) for _, m in sorted(self._models.items())]

    def entry(self, name: str) -> ModelEntry:
        return self._entry(self.served(name))

    def metadata(self, name: str) -> ModelMetadata:
        """The active version's metadata (an inference carries the metadata of the version it ran on)."""
        return self._active(self.served(name)).session.metadata

    def is_ready(self, name: str) -> bool:
        model = self._models.get(name)
        return model is not None and model.active is not None

    def ready(self) -> bool:
        """Started and every model of the repository serving (Triton's strict readiness)."""
        return self.started and all(m.active is not None for m in self._models.values())

    def session(self, name: str, version: str = "") -> ModelSession:
        """The serving session of `name`; with `version`, only if that version is the active one."""
        model = self.served(name)
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

    # ---- the served models, for the activation ----------------------------------------------

    def served(self, name: str) -> ServedModel:
        model = self._models.get(name)
        if model is None:
            raise NotFound(f"unknown model {name!r}")
        return model

    def find(self, name: str) -> ServedModel | None:
        return self._models.get(name)

    def served_models(self) -> list[ServedModel]:
        return list(self._models.values())

    def add(self, model: ServedModel) -> None:
        self._models[model.name] = model

    # ---- inference --------------------------------------------------------------------------

    async def infer(self, name: str, x: np.ndarray) -> Inference:
        """`x` (the model's input, already normalised), micro-batched with other concurrent
        requests for the same model."""
        return await self._submit(name, lambda meta: check_input(name, meta, x))

    async def infer_last_row(self, name: str, features: np.ndarray) -> Inference:
        """The prediction as of the last row of `features` (`compute_features` rows), normalised
        with the metadata of the version that runs it; micro-batched."""
        return await self._submit(name, _last_row_input(name, features))

    def announced(self, names: list[str]) -> AbstractContextManager[Arrival]:
        """Announces a request that will queue inputs for the models `names` later in the block
        (pass the arrival to `infer_last_rows`): their batchers wait for it rather than run without it."""
        return self.arrivals.announced(names)

    async def infer_last_rows(
        self, names: list[str], features: np.ndarray, arrival: Landing | None = None
    ) -> list[Inference]:
        """`infer_last_row` for each model of `names` at once: every input queued on its model's
        batcher in one step and the results awaited together (no task per model: an ensemble's
        members run on every on-demand prediction). The first failure is raised, each counted."""
        started = time.perf_counter()
        queued: list[_Queued] = []
        try:
            for name in names:
                queued.append(self._enqueue(name, _last_row_input(name, features)))
        except BaseException:
            for earlier in queued:
                earlier.future.cancel()
            raise
        finally:
            if arrival is not None:
                arrival.land()
        return await self._results(queued, started)

    def infer_sync(self, name: str, x: np.ndarray, version: str = "") -> Inference:
        """One direct session run, any batch size; thread-safe (backtests, KServe)."""
        return self._run_sync(name, version, lambda meta: check_input(name, meta, x))

    def infer_rows_sync(self, name: str, features: np.ndarray) -> Inference:
        """Predictions as of every row of `features` (see `model_inputs_all`) in one direct run,
        normalised with the metadata of the version that runs them; thread-safe (backtests)."""
        return self._run_sync(
            name, "", lambda meta: check_input(name, meta, model_inputs_all(meta, features))
        )

    def run_raw_sync(
        self, session: ModelSession, feeds: dict[str, np.ndarray], outputs: list[str]
    ) -> list[np.ndarray]:
        """Raw ONNX outputs of `session` (from `session()`), counted in the model's stats."""
        model = self.served(session.name)
        started = time.perf_counter()
        model.stats.record_batch(1)
        try:
            result = session.run_raw(feeds, outputs)
        except Exception:
            model.stats.record_request((time.perf_counter() - started) * 1000, failed=True)
            raise
        model.stats.record_request((time.perf_counter() - started) * 1000)
        return result

    async def _submit(self, name: str, prepare: Prepare) -> Inference:
        started = time.perf_counter()
        (inference,) = await self._results([self._enqueue(name, prepare)], started)
        return inference

    async def _results(self, queued: list[_Queued], started: float) -> list[Inference]:
        """The inferences of the queued inputs, awaited together; the first failure is raised, each
        counted against its model."""
        outcomes = await asyncio.gather(*(q.future for q in queued), return_exceptions=True)
        for q, outcome in zip(queued, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                q.model.stats.record_request((time.perf_counter() - started) * 1000, failed=True)
        failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failure is not None:
            raise failure
        return [
            self._inference(q.model, q.active.session, values, started)
            for q, values in zip(queued, cast(list[np.ndarray], outcomes), strict=True)
        ]

    def _enqueue(self, name: str, prepare: Prepare) -> _Queued:
        """The input built from the active version's metadata, queued on that version's batcher
        in the same step (no await between): the version that runs is the one it was made for."""
        model = self.served(name)
        while True:
            active = self._active(model)
            x = prepare(active.session.metadata)
            try:
                return _Queued(model, active, active.batcher.enqueue(x))
            except BatcherClosed:
                continue  # being swapped out: serve on the new version

    def _run_sync(self, name: str, version: str, prepare: Prepare) -> Inference:
        model = self.served(name)
        session = self.session(name, version)
        x = prepare(session.metadata)
        started = time.perf_counter()
        model.stats.record_batch(1)
        try:
            values = session.run(x)
        except Exception:
            model.stats.record_request((time.perf_counter() - started) * 1000, failed=True)
            raise
        return self._inference(model, session, values, started)

    # ---- internals --------------------------------------------------------------------------

    def _active(self, model: ServedModel) -> ActiveVersion:
        active = model.active
        if active is None:
            entry = self._entry(model)
            why = f": {entry.reason}" if entry.reason else ""
            raise ModelUnavailable(f"model {model.name} is not loaded ({entry.state.value}{why})")
        return active

    def _inference(
        self, model: ServedModel, session: ModelSession, values: np.ndarray, started: float
    ) -> Inference:
        ms = (time.perf_counter() - started) * 1000
        model.stats.record_request(ms)
        return Inference(
            values,
            model.name,
            str(session.version),
            session.file_sha256,
            session.provider,
            ms,
            session.metadata,
        )

    def _entry(self, model: ServedModel) -> ModelEntry:
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
