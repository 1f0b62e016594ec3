"""A training run and what a request for one must satisfy (pure: no gRPC, SQL or torch)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.predictions.domain.features import FEATURE_WARMUP
from ml_engine.predictions.domain.horizons import HORIZONS
from ml_engine.predictions.domain.walk_forward import DEFAULT_FOLDS, purge_gap
from ml_engine.training_runs.domain.ports import BarSource
from service_runtime.errors import InvalidArgument

# The families ml_engine.training.worker trains (its pipeline's FAMILIES; serving cannot import it).
FAMILIES = ("xgboost", "gru", "transformer")
MIN_FOLDS, MAX_FOLDS = 2, 8
# Usable rows each walk-forward fold needs at the least, beyond the warm-up and the purge gaps.
ROWS_PER_FOLD = 100


class RunState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class Progress:
    stage: str = "queued"
    fold: int = 0
    folds: int = 0
    percent: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class RunSpec:
    """What to train: one family of one horizon on `symbols`' bars with start <= time < end."""

    family: str
    horizon: str
    symbols: tuple[str, ...]
    start: int
    end: int
    folds: int = DEFAULT_FOLDS


@dataclass(frozen=True)
class TrainingRun:
    id: str
    spec: RunSpec
    started_by: str
    created_at: float
    state: RunState = RunState.PENDING
    progress: Progress = field(default_factory=Progress)
    produced_version: str = ""
    models: tuple[str, ...] = ()
    error: str = ""
    finished_at: float | None = None
    # The lease: the engine supervising the run (its host name; "" for runs stored before leases)
    # writes `heartbeat_at` every few seconds. Another engine takes a run whose heartbeat is older
    # than the lease as lost (its engine is gone) instead of showing it in progress forever.
    engine: str = ""
    heartbeat_at: float | None = None
    # Asked through an engine that does not supervise it: the supervising one stops it on its next beat.
    cancel_requested: bool = False

    def finish(self, state: RunState, at: float, *, error: str = "") -> TrainingRun:
        return replace(self, state=state, error=error, finished_at=at)

    def lost(self, now: float, lease_s: float) -> bool:
        """In progress, but its engine has given no sign of life for longer than the lease."""
        last_sign = self.heartbeat_at if self.heartbeat_at is not None else self.created_at
        return not self.state.final and now - last_sign > lease_s

    def same_as(self, other: TrainingRun) -> bool:
        """What a watcher sees is the same: heartbeats alone are no change."""
        return replace(self, heartbeat_at=None) == replace(other, heartbeat_at=None)


def minimum_bars(horizon: str, folds: int) -> int:
    """Bars (at the horizon's timeframe) a series needs for `folds` walk-forward folds."""
    h = HORIZONS[horizon]
    return FEATURE_WARMUP + h.window + 3 * purge_gap(h.lookahead, h.window) + ROWS_PER_FOLD * folds


def check_spec(spec: RunSpec, bars: BarSource) -> RunSpec:
    """`spec` with its defaults filled in, or INVALID_ARGUMENT naming the first bad field."""
    if spec.family not in FAMILIES:
        raise InvalidArgument.field("family", f"must be one of {', '.join(FAMILIES)}")
    horizon = HORIZONS.get(spec.horizon)
    if horizon is None:
        raise InvalidArgument.field("horizon", f"unknown horizon {spec.horizon!r}; use {', '.join(HORIZONS)}")
    folds = spec.folds or DEFAULT_FOLDS
    if not MIN_FOLDS <= folds <= MAX_FOLDS:
        raise InvalidArgument.field("folds", f"must be {MIN_FOLDS} to {MAX_FOLDS} (0: {DEFAULT_FOLDS})")
    if not spec.symbols:
        raise InvalidArgument.field("symbols", "at least one symbol is required")
    if len(set(spec.symbols)) != len(spec.symbols):
        raise InvalidArgument.field("symbols", "a symbol is listed twice")
    if spec.start <= 0 or spec.end <= 0:
        raise InvalidArgument.field("start" if spec.start <= 0 else "end", "is required")
    if spec.end <= spec.start:
        raise InvalidArgument.field("end", "must be after start")
    target = TIMEFRAMES[horizon.timeframe]
    needed = minimum_bars(horizon.name, folds)
    for symbol in spec.symbols:
        base_name = bars.stored_timeframe(symbol)
        if base_name is None:
            raise InvalidArgument.field("symbols", f"unknown symbol {symbol!r}: not in the market data store")
        base = TIMEFRAMES[base_name]
        if not base.divides(target):
            raise InvalidArgument.field(
                "symbols",
                f"{symbol} is stored at {base_name}, coarser than the {horizon.name} horizon's "
                f"{horizon.timeframe} bars",
            )
        count = bars.count(symbol, base_name, spec.start, spec.end) * base.seconds // target.seconds
        if count < needed:
            raise InvalidArgument.field(
                "start",
                f"{symbol} has about {count} {horizon.timeframe} bars between start and end; a "
                f"{folds}-fold walk-forward of {horizon.name} needs at least {needed}",
            )
    return replace(spec, folds=folds)
