"""Predictions and signals for a symbol: bars -> features -> ensemble members -> combined forecast.

No gRPC here: handlers.py translates. Errors are domain errors: an unknown symbol is NotFound, a
horizon the stored bars cannot make (scalping's 5m from 1h data) or too little history is
FailedPrecondition naming what to import or how many bars are needed, a horizon or timeframe no
model serves is DependencyUnavailable (503), like a member model that is not loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

import numpy as np

from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_windows import BarWindows, Series
from ml_engine.market_data.domain.bars import Bars, FloatArray
from ml_engine.market_data.domain.symbols import normalize_symbol
from ml_engine.market_data.domain.timeframes import TIMEFRAMES, parse_timeframe
from ml_engine.market_data.domain.times import format_time
from ml_engine.predictions.data.prediction_repository import PredictionRecord, shadow_variant
from ml_engine.predictions.domain.adaptive import AdaptiveConformal, Adjustment
from ml_engine.predictions.domain.combine import (
    TARGET_OF_COLUMN,
    HorizonForecast,
    ModelUse,
    active_members,
    combine,
    models_to_run,
    prices_from_pct,
    range_source,
)
from ml_engine.predictions.domain.ensemble import BASELINE_MEMBER, HorizonEnsemble
from ml_engine.predictions.domain.features import (
    FEATURE_NAMES,
    FEATURE_SCHEMA_HASH,
    FEATURE_WARMUP,
    compute_features,
)
from ml_engine.predictions.domain.horizons import (
    HORIZONS,
    SIGNAL_TIMEFRAMES,
    Horizon,
    horizon_for_timeframe,
)
from ml_engine.predictions.domain.model_metadata import OUTPUT_COLUMNS, ModelMetadata
from ml_engine.predictions.domain.signals import (
    NO_COSTS,
    Action,
    Contribution,
    Decision,
    SignalLevels,
    TradeCosts,
    decide,
    levels,
    summary,
)
from ml_engine.shared.stamped_cache import StampedCache
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument, NotFound

log = logging.getLogger(__name__)

# Bars read behind every prediction. The recursive indicators (ATR, RSI, ADX, MACD's EMAs) depend
# on where their series starts; training computed them over the whole history, so serving reads
# enough bars for them to have converged, not just the warm-up.
FEATURE_HISTORY = 300
# Feature windows kept (per symbol, timeframe and as-of cut-off), reused while the stored data is unchanged.
FEATURE_CACHE_SIZE = 256
ATR_PCT_INDEX = FEATURE_NAMES.index("atr_pct")
# What a symbol's stored bars were when something was computed from them: the last bar, the revision
# of its bars as the bar clock saw it, this engine's data version of it (Forecaster._data_stamp).
_DataStamp = tuple[int | None, int, int | None]


class InferenceResult(Protocol):
    """What ModelRegistry.infer_last_rows returns (ml_engine.models.serving.registry.Inference)."""

    @property
    def values(self) -> np.ndarray: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def file_sha256(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def metadata(self) -> ModelMetadata: ...


class Landing(Protocol):
    """An announced request (ml_engine.models.serving.arrivals.Arrival)."""

    def land(self) -> None: ...


class ModelServer(Protocol):
    """The part of ml_engine.models.serving.registry.ModelRegistry predictions use."""

    # Counts model activations: a latest-bar prediction made before one is out of date.
    @property
    def generation(self) -> int: ...

    def metadata(self, name: str) -> ModelMetadata: ...

    def announced(self, names: list[str]) -> AbstractContextManager[Landing]: ...

    async def infer_last_rows(
        self, names: list[str], features: np.ndarray, arrival: Landing | None = None
    ) -> Sequence[InferenceResult]: ...


class ShadowServer(Protocol):
    """The part of ml_engine.models.serving.shadow.ShadowRegistry predictions use."""

    def names(self) -> frozenset[str]: ...

    async def infer_last_row(self, name: str, features: np.ndarray) -> InferenceResult: ...


class Recorder(Protocol):
    def record(self, record: PredictionRecord) -> None: ...


class Explainer(Protocol):
    def explain(
        self, model: str, version: str, features: tuple[float, ...], negate: bool
    ) -> tuple[Contribution, ...]: ...


@dataclass(frozen=True)
class Forecast:
    symbol: str
    predictions: list[HorizonForecast]
    # Horizons of an "all" request left out, each with why and what to import.
    skipped: list[str]


@dataclass(frozen=True)
class SignalResult:
    symbol: str
    timeframe: str
    forecast: HorizonForecast
    decision: Decision
    levels: SignalLevels
    explanation: tuple[Contribution, ...]
    summary: str

    @property
    def action(self) -> Action:
        return self.decision.action


@dataclass
class _Served:
    """A latest-bar forecast and its record: recorded when first served, not when precomputed."""

    forecast: HorizonForecast
    record: PredictionRecord | None
    recorded: bool = False


@dataclass(frozen=True)
class _ServedSignal:
    prediction: _Served
    signal: SignalResult


@dataclass(frozen=True)
class _Window:
    bars: Bars
    features: FloatArray


def import_hint(horizon_or_timeframe: str, symbol: str, timeframe: str, stored: str) -> str:
    return (
        f"{horizon_or_timeframe} needs {timeframe} bars of {symbol} (stored: {stored}); import them with "
        f"make import-bars ARGS='<file.csv> --symbol {symbol} --timeframe {timeframe}'"
    )


def member_identity(uses: list[tuple[ModelUse, str]]) -> list[dict[str, object]]:
    """The members of a served prediction as recorded (JSON): name, version, file hash, target, weight."""
    return [
        {"name": u.name, "version": u.version, "file_sha256": sha, "target": u.target, "weight": u.weight}
        for u, sha in uses
    ]


@lru_cache(maxsize=1024)
def members_json(uses: tuple[tuple[ModelUse, str], ...]) -> str:
    """member_identity of `uses` as canonical JSON (sorted keys): what is recorded, and the input of
    the prediction id and the ensemble version. Made once per set of member versions, not on every
    forecast (three renderings of it were 7% of the event loop in on-demand Predicts)."""
    return json.dumps(member_identity(list(uses)), sort_keys=True)


def prediction_id(members: str, symbol: str, horizon: str, as_of: int, ensemble: HorizonEnsemble) -> str:
    """SHA-256 of what makes a served prediction distinct (same inputs, same models: same id):
    the canonical JSON (sorted keys) of the members (`members_json`), the baseline, the feature
    schema, the symbol, the horizon and the as-of time, written out here so that the members' JSON
    is not rendered again (the bytes are json.dumps(key, sort_keys=True)'s: tested)."""
    # The baseline member's values come from these; a retrained baseline is a new prediction.
    baseline = [
        ensemble.baseline_high_coef,
        ensemble.baseline_low_coef,
        ensemble.tp_long_base_rate,
        ensemble.tp_short_base_rate,
    ]
    dumps = json.dumps
    key = (
        f'{{"as_of": {dumps(as_of)}, "baseline": {dumps(baseline)}, '
        f'"feature_schema": {dumps(FEATURE_SCHEMA_HASH)}, "horizon": {dumps(horizon)}, '
        f'"members": {members}, "symbol": {dumps(symbol)}}}'
    )
    return hashlib.sha256(key.encode()).hexdigest()


def ensemble_version(members: str) -> str:
    """A short hash of the members (`members_json`): the `version` scores are grouped by."""
    return hashlib.sha256(members.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class _MemberRun:
    """The members' outputs for one window: each member's inference, and its values by column."""

    inferences: dict[str, InferenceResult]
    values: dict[tuple[str, str], float]
    ms: float


@dataclass(frozen=True)
class _Provenance:
    """Which members answered, in which versions: what the forecast shows and the record keeps."""

    uses: tuple[ModelUse, ...]
    # members_json of the uses: the recorded members, the prediction id's and version's input.
    members: str
    as_of: int
    prediction_id: str


def member_uses(
    ensemble: HorizonEnsemble, inferences: dict[str, InferenceResult]
) -> list[tuple[ModelUse, str]]:
    """Every active member of every column, as the version that ran it (and its file hash)."""
    uses: list[tuple[ModelUse, str]] = []
    for column in OUTPUT_COLUMNS:
        target = TARGET_OF_COLUMN[column]
        for member in active_members(ensemble, column):
            inf = inferences.get(member.model)
            if member.model == BASELINE_MEMBER or inf is None:
                uses.append((ModelUse(BASELINE_MEMBER, "", target, member.weight), ""))
            else:
                use = ModelUse(inf.name, str(inf.version), target, member.weight, inf.provider)
                uses.append((use, inf.file_sha256))
    return uses


def member_provenance(
    ensemble: HorizonEnsemble,
    inferences: dict[str, InferenceResult],
    symbol: str,
    horizon: Horizon,
    window: _Window,
) -> _Provenance:
    """Provenance: the members that ran and the id of the prediction they make as of the window's last bar."""
    uses = member_uses(ensemble, inferences)
    members = members_json(tuple(uses))
    as_of = int(window.bars.times[-1])
    pid = prediction_id(members, symbol, horizon.name, as_of, ensemble)
    return _Provenance(tuple(u for u, _ in uses), members, as_of, pid)


def combined_forecast(
    symbol: str,
    horizon: Horizon,
    ensemble: HorizonEnsemble,
    window: _Window,
    run: _MemberRun,
    provenance: _Provenance,
    adjustments: dict[str, Adjustment] | None = None,
) -> HorizonForecast:
    """The members' values combined with the ensemble's weights, as prices from the last close; the
    intervals with the `adjustments` (adapted quantiles) where given."""
    row = window.features[-1]
    close = float(window.bars.close[-1])
    atr_pct = float(row[ATR_PCT_INDEX])
    combined = combine(ensemble, run.values, atr_pct, adjustments)
    high, low = prices_from_pct(close, combined.range_high_pct, combined.range_low_pct)
    return HorizonForecast(
        symbol=symbol,
        horizon=horizon,
        as_of=provenance.as_of,
        close=close,
        atr=atr_pct * close,
        predicted_high=high,
        predicted_low=low,
        predicted_high_pct=combined.range_high_pct,
        predicted_low_pct=combined.range_low_pct,
        tp_long=combined.tp_long,
        tp_short=combined.tp_short,
        models=provenance.uses,
        inference_ms=run.ms,
        range_source=range_source(ensemble),
        prediction_id=provenance.prediction_id,
        features=tuple(row.tolist()),
        intervals=combined.intervals,
    )


class Forecaster:
    def __init__(
        self,
        windows: BarWindows,
        registry: ModelServer,
        manifest: dict[str, HorizonEnsemble],
        recorder: Recorder | None = None,
        explainer: Explainer | None = None,
        clock: BarClock | None = None,
        latest_cache_size: int = 0,
        costs: TradeCosts = NO_COSTS,
        shadows: ShadowServer | None = None,
        adaptive: AdaptiveConformal | None = None,
    ) -> None:
        """With a `clock` and `latest_cache_size` > 0, predictions and signals for the latest bar
        come from a cache (each key's entry holds until a new bar or a model activation), and the
        cached ones are computed again as soon as the clock sees their symbol's next bar. With
        `adaptive`, intervals use quantiles adapted to the live scores the scorer has recorded
        (domain/adaptive.py); without, the manifest's."""
        self.windows = windows
        self.registry = registry
        self.manifest = manifest
        self.recorder = recorder
        self.explainer = explainer
        self.clock = clock
        # What a signal's expected value is net of (settings ML_SIGNAL_COMMISSION / _SLIPPAGE).
        self.costs = costs
        # Shadow versions: an ensemble computation using one is repeated with it, recorded, never served.
        self.shadows = shadows
        self.shadow_predictions = 0
        self.adaptive = adaptive
        size = latest_cache_size if clock is not None else 0
        # (symbol, horizon) -> the latest-bar forecast; (symbol, signal timeframe) -> the signal.
        self.latest: StampedCache[_Served] = StampedCache(size)
        self.latest_signals: StampedCache[_ServedSignal] = StampedCache(size)
        self._background: set[asyncio.Task[object]] = set()
        self._cache: OrderedDict[tuple[str, str, int | None], tuple[_DataStamp, _Window]] = OrderedDict()
        if clock is not None and size > 0:
            clock.on_new_bar(self._bar_closed)

    # ---- Predict -------------------------------------------------------------------------------

    async def predict(self, symbol: str, horizons: list[Horizon], as_of: int | None = None) -> Forecast:
        """One forecast per horizon. With several horizons (an "all" request), a horizon the stored
        bars cannot make or no model serves is skipped with why; an error only when none is left."""
        latest = self._latest_bar(symbol) if as_of is None else None
        if latest is not None:
            base, last = latest
            runnable, skipped = self._servable(base, horizons)
            return Forecast(base.symbol, await self._latest_forecasts(base, runnable, last), skipped)
        # Announced from the start (a horizon each): batches wait for this request's members
        # while its bars are read and its features computed.
        with ExitStack() as announcements:
            arrivals = {
                h.name: announcements.enter_context(self.registry.announced(self._members(h)))
                for h in horizons
            }
            # One worker-thread hop for both reads: each hop costs more than the SQL it runs. Kept
            # when the bar cache could answer without it: under load the hop is what lets batches
            # form (the gRPC server accepts one call per turn of the loop, so only requests that
            # wait somewhere overlap); answered inline, batches fell from 5.8 requests to 1.04 and
            # throughput at c=64 from 268 to 225 req/s (6 alternating rounds, 2026-11-30).
            base, last = await asyncio.to_thread(self._resolve_with_last_bar, symbol)
            runnable, skipped = self._servable(base, horizons)
            results = await asyncio.gather(
                *(self._forecast(base, h, as_of, last, arrivals[h.name]) for h in runnable)
            )
        return Forecast(base.symbol, list(results), skipped)

    def _servable(self, base: Series, horizons: list[Horizon]) -> tuple[list[Horizon], list[str]]:
        """The horizons that can be served, and why the others cannot (an error when none is left,
        or when a single horizon was asked for)."""
        several = len(horizons) > 1
        runnable: list[Horizon] = []
        skipped: list[str] = []
        first_error: Exception | None = None
        for horizon in horizons:
            try:
                self._check_servable(base, horizon)
                runnable.append(horizon)
            except (FailedPrecondition, DependencyUnavailable) as error:
                if not several:
                    raise
                first_error = first_error or error
                skipped.append(f"{horizon.name}: {error.message}")
        if not runnable:
            assert first_error is not None
            raise first_error
        return runnable, skipped

    # ---- the latest bar: computed once per bar and model versions ---------------------------

    def _latest_bar(self, symbol: str) -> tuple[Series, int | None] | None:
        """The symbol and its last stored bar from the clock; None when the cache is off or the
        clock does not know the symbol (yet): then the request is computed on demand."""
        if self.clock is None or not self.latest.enabled:
            return None
        try:
            bar = self.clock.last(normalize_symbol(symbol))
        except InvalidArgument:
            return None
        if bar is None:
            return None
        return Series(bar.symbol, bar.base, bar.base), bar.time

    def _stamp(self, symbol: str, last: int | None) -> tuple[_DataStamp, int]:
        """What a latest-bar prediction depends on besides its key: the stored bars, the model versions."""
        return self._data_stamp(symbol, last), self.registry.generation

    def _data_stamp(self, symbol: str, last: int | None) -> _DataStamp:
        """What a symbol's features depend on: its last bar, the revision of its bars as the clock last
        saw it (a correction of past bars leaves the last bar where it was), and this engine's data
        version of it (its own imports)."""
        bar = self.clock.last(symbol) if self.clock is not None else None
        return last, bar.revision if bar is not None else 0, self.windows.data_version(symbol)

    async def _latest_forecasts(
        self, base: Series, horizons: list[Horizon], last: int | None
    ) -> list[HorizonForecast]:
        stamp = self._stamp(base.symbol, last)
        served = [self.latest.peek((base.symbol, h.name), stamp) for h in horizons]
        if any(s is None for s in served):
            served = list(await asyncio.gather(*(self._latest_served(base, h, last) for h in horizons)))
        return [self._serve(s) for s in served if s is not None]

    async def _latest_served(self, base: Series, horizon: Horizon, last: int | None) -> _Served:
        async def compute() -> _Served:
            forecast, provenance = await self._compute(base, horizon, None, last)
            record = self._prediction_record(forecast, provenance) if self.recorder is not None else None
            return _Served(forecast, record)

        return await self.latest.get((base.symbol, horizon.name), self._stamp(base.symbol, last), compute)

    def _serve(self, served: _Served) -> HorizonForecast:
        """The cached forecast; recorded for scoring the first time it is served."""
        if not served.recorded:
            served.recorded = True
            if self.recorder is not None and served.record is not None:
                self.recorder.record(served.record)
        return served.forecast

    async def _latest_signal(self, base: Series, timeframe: str, last: int | None) -> _ServedSignal:
        horizon = horizon_for_timeframe(timeframe)
        assert horizon is not None  # checked by signal_horizon

        async def compute() -> _ServedSignal:
            prediction = await self._latest_served(base, horizon, last)
            return _ServedSignal(prediction, self.decide(prediction.forecast, timeframe))

        return await self.latest_signals.get(
            (base.symbol, timeframe), self._stamp(base.symbol, last), compute
        )

    def _bar_closed(self, symbol: str) -> None:
        """The clock saw a new bar of `symbol`: compute its cached predictions and signals again
        now, once, rather than on the next request (which waits for this computation if it comes first)."""
        latest = self._latest_bar(symbol)
        if latest is None:
            return
        base, last = latest
        for key in self.latest.cached_keys():
            if isinstance(key, tuple) and key[0] == symbol and key[1] in HORIZONS:
                self._in_background(self._latest_served(base, HORIZONS[key[1]], last))
        for key in self.latest_signals.cached_keys():
            if isinstance(key, tuple) and key[0] == symbol:
                self._in_background(self._latest_signal(base, key[1], last))

    def _in_background(self, work: Coroutine[object, object, object]) -> None:
        async def quietly() -> object:
            try:
                return await work
            except Exception as error:  # the next request computes again, and reports the error
                log.warning("background prediction work (precompute or shadow) failed: %s", error)
                return None

        task = asyncio.get_running_loop().create_task(quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _resolve(self, symbol: str) -> Series:
        """The symbol at its stored timeframe (NotFound when unknown)."""
        return await asyncio.to_thread(self.windows.resolve, symbol, "")

    def _check_servable(self, base: Series, horizon: Horizon) -> None:
        target = parse_timeframe(horizon.timeframe)
        if not base.base.divides(target):
            raise FailedPrecondition(
                import_hint(horizon.name, base.symbol, horizon.timeframe, base.base.name)
            )
        if horizon.name not in self.manifest:
            raise DependencyUnavailable(
                f"no model is trained for the {horizon.name} horizon ({horizon.timeframe} bars)"
            )

    def _resolve_with_last_bar(self, symbol: str) -> tuple[Series, int | None]:
        base = self.windows.resolve(symbol, "")
        return base, self.windows.last_time(base)

    def _cached_window(
        self, base: Series, horizon: Horizon, as_of: int | None, needed: int, stamp: _DataStamp
    ) -> _Window | None:
        """The cached window when the stored data has not changed since it was computed (`stamp`)."""
        key = (base.symbol, horizon.timeframe, as_of)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == stamp and len(hit[1].bars) >= min(needed, FEATURE_HISTORY):
            self._cache.move_to_end(key)
            return hit[1]
        return None

    def _window(
        self, base: Series, horizon: Horizon, as_of: int | None, needed: int, stamp: _DataStamp
    ) -> _Window:
        """Complete bars up to the cut-off and their features; cached while the stored data is the same."""
        target = TIMEFRAMES[horizon.timeframe]
        key = (base.symbol, target.name, as_of)
        cached = self._cached_window(base, horizon, as_of, needed, stamp)
        if cached is not None:
            return cached
        series = Series(base.symbol, base.base, target)
        bars = self.windows.latest(series, max(needed, FEATURE_HISTORY) + 1, end=as_of).bars
        # Complete bars only: a bucket still being built, or (as of a time) one that had not closed by then.
        keep = len(bars)
        while keep and (
            (keep == len(bars) and not bars.last_complete)
            or (as_of is not None and int(bars.times[keep - 1]) + target.seconds > as_of)
        ):
            keep -= 1
        bars = bars.slice(0, keep)
        window = _Window(bars, compute_features(bars))
        self._cache[key] = (stamp, window)
        while len(self._cache) > FEATURE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return window

    def _members(self, horizon: Horizon) -> list[str]:
        """The models a forecast of `horizon` runs (none when the manifest has no such horizon)."""
        ensemble = self.manifest.get(horizon.name)
        return models_to_run(ensemble) if ensemble is not None else []

    def _metadata(self, name: str, horizon: Horizon) -> ModelMetadata:
        try:
            return self.registry.metadata(name)
        except NotFound:  # listed by the manifest but not in the repository: the service cannot serve it
            raise DependencyUnavailable(
                f"model {name} of the {horizon.name} ensemble is not in the model repository"
            ) from None

    async def _forecast(
        self,
        base: Series,
        horizon: Horizon,
        as_of: int | None,
        last: int | None,
        arrival: Landing | None = None,
    ) -> HorizonForecast:
        """One horizon's forecast computed on demand, and recorded."""
        forecast, provenance = await self._compute(base, horizon, as_of, last, arrival)
        if self.recorder is not None:
            self.recorder.record(self._prediction_record(forecast, provenance))
        return forecast

    async def _compute(
        self,
        base: Series,
        horizon: Horizon,
        as_of: int | None,
        last: int | None,
        arrival: Landing | None = None,
    ) -> tuple[HorizonForecast, _Provenance]:
        """One horizon's forecast, step by step: the members' metadata says how many bars to read,
        the window gives the features, the members run, the provenance names the versions that ran."""
        ensemble = self.manifest[horizon.name]
        names = models_to_run(ensemble)
        needed = self._bars_needed(names, horizon)
        # Announced (here, unless the caller did) until its members are queued: batches wait for it.
        with nullcontext(arrival) if arrival is not None else self.registry.announced(names) as announced:
            window = await self._feature_window(base, horizon, as_of, needed, last)
            run = await self._run_members(names, window.features, announced)
        provenance = member_provenance(ensemble, run.inferences, base.symbol, horizon, window)
        adjustments = self._adjustments(base, horizon, ensemble, window)
        forecast = combined_forecast(base.symbol, horizon, ensemble, window, run, provenance, adjustments)
        self._shadow_in_background(base, horizon, names, window, run, adjustments)
        return forecast, provenance

    # ---- shadows: the same inputs, another version, recorded and never served -----------------

    def _shadow_in_background(
        self,
        base: Series,
        horizon: Horizon,
        names: list[str],
        window: _Window,
        run: _MemberRun,
        adjustments: dict[str, Adjustment] | None,
    ) -> None:
        """When a member of this ensemble has a shadow version, the ensemble is computed again
        with it substituted in a background task: after the user's answer is built, never in it."""
        if self.shadows is None or self.recorder is None:
            return
        in_shadow = sorted(self.shadows.names().intersection(names))
        for name in in_shadow:
            self._in_background(self._shadow_forecast(base, horizon, name, window, run, adjustments))

    async def _shadow_forecast(
        self,
        base: Series,
        horizon: Horizon,
        name: str,
        window: _Window,
        active: _MemberRun,
        adjustments: dict[str, Adjustment] | None,
    ) -> None:
        """The ensemble again with `name`'s shadow version, under the same interval adjustments as
        the active answer (so the two are compared on the models alone)."""
        assert self.shadows is not None and self.recorder is not None
        ensemble = self.manifest[horizon.name]
        inference = await self.shadows.infer_last_row(name, window.features)
        values = {key: v for key, v in active.values.items() if key[0] != name}
        for j, column in enumerate(inference.metadata.output_columns):
            values[(name, column)] = float(np.asarray(inference.values)[0, j])
        run = _MemberRun({**active.inferences, name: inference}, values, active.ms)
        provenance = member_provenance(ensemble, run.inferences, base.symbol, horizon, window)
        forecast = combined_forecast(base.symbol, horizon, ensemble, window, run, provenance, adjustments)
        variant = shadow_variant(name, str(inference.version))
        record = self._prediction_record(forecast, provenance)
        # Its own id: once promoted, the same members' active prediction is a row of its own.
        shadow_id = hashlib.sha256(f"{record.id}:{variant}".encode()).hexdigest()
        self.recorder.record(replace(record, id=shadow_id, variant=variant))
        self.shadow_predictions += 1

    async def settle(self) -> None:
        """Waits for the background work started so far (precomputations, shadows): tests, shutdown."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _adjustments(
        self, base: Series, horizon: Horizon, ensemble: HorizonEnsemble, window: _Window
    ) -> dict[str, Adjustment] | None:
        """Adapted quantiles from the live scores known at the as-of bar: those of predictions as of
        the L-th stored bar before it or earlier, whose lookahead bars all closed by its close."""
        times = window.bars.times
        if self.adaptive is None or not ensemble.interval_quantiles or len(times) <= horizon.lookahead:
            return None
        known_by = int(times[-1 - horizon.lookahead])
        key = (base.symbol, horizon.timeframe, horizon.lookahead)
        return self.adaptive.adjustments(key, ensemble.interval_quantiles, known_by)

    def _bars_needed(self, names: list[str], horizon: Horizon) -> int:
        """Metadata: the feature warm-up plus the longest input window of the members."""
        metas = [self._metadata(name, horizon) for name in names]
        return FEATURE_WARMUP + max([1, *(m.window_bars for m in metas)])

    async def _feature_window(
        self, base: Series, horizon: Horizon, as_of: int | None, needed: int, last: int | None
    ) -> _Window:
        """Windowing: the complete bars up to the cut-off and their features, at least `needed` of them."""
        # A cache hit is a dict look-up: only a miss (a database read) goes to a worker thread.
        stamp = self._data_stamp(base.symbol, last)
        window = self._cached_window(base, horizon, as_of, needed, stamp)
        if window is None:
            window = await asyncio.to_thread(self._window, base, horizon, as_of, needed, stamp)
        have = len(window.bars)
        if have < needed:
            cut = f" before {format_time(as_of)}" if as_of is not None else ""
            raise FailedPrecondition(
                f"{horizon.name} needs {needed} bars of {horizon.timeframe}, has {have} "
                f"(complete {horizon.timeframe} bars of {base.symbol}{cut})"
            )
        return window

    async def _run_members(self, names: list[str], features: FloatArray, arrival: Landing) -> _MemberRun:
        """Inference: every member as of the last row, concurrently (each micro-batched), each
        normalised with the metadata of the version that runs it and read by that version's columns."""
        started = time.perf_counter()
        inferences = await self.registry.infer_last_rows(names, features, arrival)
        ms = (time.perf_counter() - started) * 1000.0
        by_name = dict(zip(names, inferences, strict=True))
        values = {
            (name, column): float(np.asarray(inference.values)[0, j])
            for name, inference in by_name.items()
            for j, column in enumerate(inference.metadata.output_columns)
        }
        return _MemberRun(by_name, values, ms)

    @staticmethod
    def _prediction_record(forecast: HorizonForecast, provenance: _Provenance) -> PredictionRecord:
        """Recording: what the served prediction is recorded as, once, off the request path (see
        PredictionRecorder)."""
        horizon = forecast.horizon
        interval = forecast.interval()  # the default coverage's: what live scores measure
        return PredictionRecord(
            id=forecast.prediction_id,
            model=f"{horizon.name}_ensemble",
            version=ensemble_version(provenance.members),
            symbol=forecast.symbol,
            horizon=horizon.name,
            timeframe=horizon.timeframe,
            as_of=forecast.as_of,
            lookahead=horizon.lookahead,
            close=forecast.close,
            atr=forecast.atr,
            predicted_high=forecast.predicted_high,
            predicted_low=forecast.predicted_low,
            tp_long=forecast.tp_long,
            tp_short=forecast.tp_short,
            members=provenance.members,
            created_at=int(time.time()),
            interval_high=None if interval is None else forecast.close * (1 + interval.high_pct / 100),
            interval_low=None if interval is None else forecast.close * (1 + interval.low_pct / 100),
            interval_coverage=None if interval is None else interval.coverage,
        )

    # ---- Signals -------------------------------------------------------------------------------

    def signal_horizon(self, base: Series, timeframe_text: str) -> tuple[str, Horizon]:
        """The signal timeframe (empty: 1h) and the horizon whose models read it; errors name the fix."""
        timeframe = timeframe_text.strip().lower() or "1h"
        if timeframe not in SIGNAL_TIMEFRAMES:
            raise InvalidArgument.field(
                "timeframe",
                f"unknown signal timeframe {timeframe_text!r}; use one of {', '.join(SIGNAL_TIMEFRAMES)}",
            )
        target = TIMEFRAMES[timeframe]
        if not base.base.divides(target):
            raise FailedPrecondition(
                import_hint(f"a {timeframe} signal", base.symbol, timeframe, base.base.name)
            )
        horizon = horizon_for_timeframe(timeframe)
        if horizon is None or horizon.name not in self.manifest:
            served = ", ".join(
                f"{h.timeframe} ({h.name})"
                for h in HORIZONS.values()
                if h.name in self.manifest and h.timeframe in SIGNAL_TIMEFRAMES
            )
            raise DependencyUnavailable(
                f"no model reads {timeframe} bars; signals are served for {served or 'no timeframe yet'}"
            )
        return timeframe, horizon

    async def check_signal(self, symbol: str, timeframe_text: str) -> tuple[Series, str, Horizon]:
        """Everything a signal (or a stream) needs, checked without computing one."""
        timeframe = timeframe_text.strip().lower() or "1h"
        if timeframe not in SIGNAL_TIMEFRAMES:  # before touching the store: a bad argument is a bad argument
            self.signal_horizon(Series("", TIMEFRAMES["1m"], TIMEFRAMES["1m"]), timeframe_text)
        base = await self._resolve(symbol)
        tf, horizon = self.signal_horizon(base, timeframe_text)
        return base, tf, horizon

    async def signal(self, symbol: str, timeframe_text: str, as_of: int | None = None) -> SignalResult:
        latest = self._latest_bar(symbol) if as_of is None else None
        if latest is None:
            base, timeframe, horizon = await self.check_signal(symbol, timeframe_text)
            return await self.signal_at(base, timeframe, horizon, as_of)
        base, last = latest
        timeframe, _ = self.signal_horizon(base, timeframe_text)
        served = self.latest_signals.peek((base.symbol, timeframe), self._stamp(base.symbol, last))
        if served is None:
            served = await self._latest_signal(base, timeframe, last)
        self._serve(served.prediction)
        return served.signal

    async def signal_at(
        self, base: Series, timeframe: str, horizon: Horizon, as_of: int | None
    ) -> SignalResult:
        """The signal (and the prediction it comes from) of checked arguments (see `check_signal`)."""
        last = await asyncio.to_thread(self.windows.last_time, base)
        forecast = await self._forecast(base, horizon, as_of, last)
        return self.decide(forecast, timeframe)

    def decide(self, forecast: HorizonForecast, timeframe: str) -> SignalResult:
        ensemble = self.manifest[forecast.horizon.name]
        atr_pct = forecast.atr / forecast.close if forecast.close > 0 else None
        decision = decide(forecast.tp_long, forecast.tp_short, ensemble, atr_pct=atr_pct, costs=self.costs)
        lv = levels(decision.action, forecast.close, forecast.atr)
        explanation = self._explain(forecast, decision.action)
        text = summary(forecast.symbol, timeframe, decision, lv, explanation)
        return SignalResult(forecast.symbol, timeframe, forecast, decision, lv, explanation, text)

    def _explain(self, forecast: HorizonForecast, action: Action) -> tuple[Contribution, ...]:
        """Top contributions of the horizon's XGBoost TP classifier (the short one, sign flipped so
        positive still favours the long, for a SELL)."""
        if self.explainer is None:
            return ()
        short = action is Action.SELL
        name = f"{forecast.horizon.name}_xgb_{'tp_short' if short else 'tp_long'}"
        version = next((m.version for m in forecast.models if m.name == name), "")
        if not version:
            try:
                version = self.registry.metadata(name).version
            except Exception:  # no such model (none trained): no explanation rather than no signal
                return ()
        return self.explainer.explain(name, version, forecast.features, short)
