"""Latest-bar predictions and signals: computed once per bar and model versions, answered from the
cache, the same as on demand; a new bar or an activation makes them new; recorded once when served."""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as market_repository
from ml_engine.market_data.domain.row_checks import BarRow
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.arrivals import Arrival, Landing
from ml_engine.models.serving.registry import Inference, ModelRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore, predictions
from ml_engine.predictions.domain.combine import HorizonForecast
from ml_engine.predictions.domain.ensemble import HorizonEnsemble, Member
from ml_engine.predictions.domain.horizons import parse_horizons
from ml_engine.predictions.domain.model_metadata import OUTPUT_COLUMNS, ModelMetadata
from ml_engine.predictions.explain import XgbExplainer
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.shared.database import MarketStore
from service_runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving import tiny_models as tiny
from tests.ml_engine.predictions.support import MODEL_REPOSITORY, manifest, store_synthetic


class CountingServer:
    """The registry, counting the member runs the forecaster asks for."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self.runs = 0

    @property
    def generation(self) -> int:
        return self.registry.generation

    def metadata(self, name: str) -> ModelMetadata:
        return self.registry.metadata(name)

    def announced(self, names: list[str]) -> AbstractContextManager[Arrival]:
        return self.registry.announced(names)

    async def infer_last_rows(
        self, names: list[str], features: np.ndarray, arrival: Landing | None = None
    ) -> list[Inference]:
        self.runs += len(names)
        return await self.registry.infer_last_rows(names, features, arrival)


def pair(
    store: MarketStore, server: CountingServer | ModelRegistry, recorder: PredictionRecorder | None = None
) -> tuple[Forecaster, Forecaster, BarClock]:
    """A forecaster with the latest-bar cache and one computing every request, on the same data."""
    windows = BarWindows(store.engine)
    explainer = XgbExplainer(MODEL_REPOSITORY)
    clock = BarClock(store.engine)
    cached = Forecaster(windows, server, manifest(), recorder, explainer, clock=clock, latest_cache_size=64)
    on_demand = Forecaster(windows, server, manifest(), None, explainer)
    return cached, on_demand, clock


def same(a: HorizonForecast, b: HorizonForecast) -> None:
    # inference_ms is how long the run took, the one field that is not the prediction.
    assert dataclasses.replace(a, inference_ms=0.0) == dataclasses.replace(b, inference_ms=0.0)


async def settle(forecaster: Forecaster) -> None:
    """Waits for the precomputations a new bar started."""
    while forecaster._background:
        await asyncio.gather(*forecaster._background)


async def test_cached_answers_equal_the_on_demand_ones(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    import_sample(market_store.engine, "EURUSD")
    cached, on_demand, clock = pair(market_store, registry)
    await clock.refresh()
    for _ in range(2):  # computed, then served from the cache
        got = await cached.predict("eurusd", parse_horizons("all"))
        want = await on_demand.predict("EURUSD", parse_horizons("all"))
        assert [p.horizon.name for p in got.predictions] == [p.horizon.name for p in want.predictions]
        assert got.skipped == want.skipped and got.skipped  # scalping: no 5m data
        for g, w in zip(got.predictions, want.predictions, strict=True):
            same(g, w)
        signal = await cached.signal("EURUSD", "1h")
        expected = await on_demand.signal("EURUSD", "1h")
        same(signal.forecast, expected.forecast)
        assert (signal.decision, signal.levels, signal.explanation, signal.summary) == (
            expected.decision,
            expected.levels,
            expected.explanation,
            expected.summary,
        )
    assert cached.latest.computations == 3  # intraday, swing, position: once each
    assert cached.latest_signals.computations == 1
    # The signal's prediction is the cached intraday one, not a second computation.
    intraday = next(p for p in got.predictions if p.horizon.name == "intraday")
    assert signal.forecast is intraday


async def test_errors_and_history_are_computed_on_demand(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    import_sample(market_store.engine, "EURUSD")
    cached, _, clock = pair(market_store, registry)
    await clock.refresh()
    with pytest.raises(NotFound):
        await cached.predict("NOPE", parse_horizons("all"))
    with pytest.raises(FailedPrecondition, match="5m"):
        await cached.predict("EURUSD", parse_horizons("scalping"))
    with pytest.raises(InvalidArgument):
        await cached.signal("EURUSD", "2h")
    latest = await cached.predict("EURUSD", parse_horizons("intraday"))
    earlier = await cached.predict("EURUSD", parse_horizons("intraday"), as_of=latest.predictions[0].as_of)
    assert earlier.predictions[0].as_of < latest.predictions[0].as_of
    assert cached.latest.computations == 1  # the historical one did not go through the cache
    assert len(cached.latest) == 1


async def test_concurrent_first_requests_compute_once(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    import_sample(market_store.engine, "EURUSD")
    server = CountingServer(registry)
    cached, _, clock = pair(market_store, server)
    await clock.refresh()
    answers = await asyncio.gather(
        *(cached.predict("EURUSD", parse_horizons("intraday")) for _ in range(16)),
        *(cached.signal("EURUSD", "1h") for _ in range(16)),
    )
    members = server.runs
    assert cached.latest.computations == 1 and cached.latest_signals.computations == 1
    ids = {a.predictions[0].prediction_id for a in answers[:16]} | {
        a.forecast.prediction_id for a in answers[16:]
    }
    assert len(ids) == 1
    # One run of each intraday member, for 32 requests.
    intraday_members = {u.name for u in answers[0].predictions[0].models if u.version}
    assert members == len(intraday_members)


async def test_a_new_bar_computes_the_latest_prediction_again_at_once(
    empty_market_store: MarketStore, registry: ModelRegistry
) -> None:
    store_synthetic(empty_market_store.engine, "NEWBAR", "1h", 3600, 400)
    server = CountingServer(registry)
    cached, on_demand, clock = pair(empty_market_store, server)
    await clock.refresh()
    first = (await cached.predict("NEWBAR", parse_horizons("intraday"))).predictions[0]
    store_synthetic(empty_market_store.engine, "NEWBAR", "1h", 3600, 401)  # the same 400 bars and one more
    # Until the clock sees it (the poll, or this engine's own import), the answer is the cached one.
    assert (await cached.predict("NEWBAR", parse_horizons("intraday"))).predictions[0] is first
    assert await clock.refresh() == ["NEWBAR"]
    await settle(cached)  # the new bar's prediction, computed before anyone asks
    assert cached.latest.computations == 2
    runs = server.runs
    second = (await cached.predict("NEWBAR", parse_horizons("intraday"))).predictions[0]
    assert server.runs == runs  # served from the precomputed entry
    assert second.as_of == first.as_of + 3600 and second.prediction_id != first.prediction_id
    same(second, (await on_demand.predict("NEWBAR", parse_horizons("intraday"))).predictions[0])
    assert await clock.refresh() == []  # nothing new: nothing recomputed
    assert cached.latest.computations == 2


async def test_a_correction_of_past_bars_computes_the_latest_prediction_again(
    empty_market_store: MarketStore, registry: ModelRegistry
) -> None:
    """Another engine imports corrected bars inside the model's window, the last bar unchanged: the
    clock sees the revision move, and the latest prediction is computed again from the new bars."""
    stored = store_synthetic(empty_market_store.engine, "FIXED", "1h", 3600, 400)
    server = CountingServer(registry)
    cached, on_demand, clock = pair(empty_market_store, server)
    await clock.refresh()
    first = (await cached.predict("FIXED", parse_horizons("intraday"))).predictions[0]
    corrected = [
        BarRow(
            0,
            int(stored.times[i]),
            float(stored.open[i]) * 1.05,
            float(stored.high[i]) * 1.05,
            float(stored.low[i]) * 1.05,
            float(stored.close[i]) * 1.05,
            float(stored.volume[i]),
        )
        for i in range(390, 399)
    ]
    with empty_market_store.engine.begin() as conn:
        market_repository.upsert_bars(conn, "FIXED", "1h", corrected)
    assert await clock.refresh() == ["FIXED"]
    await settle(cached)
    second = (await cached.predict("FIXED", parse_horizons("intraday"))).predictions[0]
    assert cached.latest.computations == 2
    assert second.as_of == first.as_of and second.close == first.close  # the last bar is the same
    assert second.atr != first.atr  # computed from the corrected window, not from cached features
    same(second, (await on_demand.predict("FIXED", parse_horizons("intraday"))).predictions[0])


async def test_an_activation_makes_the_latest_prediction_new(
    empty_market_store: MarketStore, tmp_path: Path
) -> None:
    repo = tmp_path / "models"
    name = "intraday_tiny"
    tiny.write(repo, name, 1, meta=tiny.metadata(name, 1))
    registry, activation = await start_serving(serving_settings(repo))
    tiny.write(repo, name, 2, meta=tiny.metadata(name, 2, norm_mean=[0.5] * tiny.F, norm_std=[2.0] * tiny.F))
    ensemble = HorizonEnsemble(
        horizon="intraday",
        members={c: [Member(name, c, 1.0)] for c in OUTPUT_COLUMNS},
        baseline_high_coef=1.0,
        baseline_low_coef=-1.0,
        tp_long_base_rate=0.4,
        tp_short_base_rate=0.4,
    )
    store_synthetic(empty_market_store.engine, "SWAP", "1h", 3600, 400)
    clock = BarClock(empty_market_store.engine)
    await clock.refresh()
    f = Forecaster(
        BarWindows(empty_market_store.engine),
        registry,
        {"intraday": ensemble},
        clock=clock,
        latest_cache_size=8,
    )
    try:
        before = (await f.predict("SWAP", parse_horizons("intraday"))).predictions[0]
        assert (await f.predict("SWAP", parse_horizons("intraday"))).predictions[0] is before
        await activation.activate(name, "2")
        after = (await f.predict("SWAP", parse_horizons("intraday"))).predictions[0]
    finally:
        await activation.stop()
    assert {(u.name, u.version) for u in before.models} == {(name, "1")}
    assert {(u.name, u.version) for u in after.models} == {(name, "2")}
    assert after.as_of == before.as_of and after.prediction_id != before.prediction_id
    assert f.latest.computations == 2


async def test_each_served_prediction_is_recorded_once_and_a_precomputed_one_only_when_served(
    empty_market_store: MarketStore, registry: ModelRegistry
) -> None:
    store_synthetic(empty_market_store.engine, "RECORD", "1h", 3600, 400)
    recorder = PredictionRecorder(PredictionStore(empty_market_store.engine))
    with empty_market_store.engine.connect() as conn:
        recorded_before = conn.execute(select(func.count()).select_from(predictions)).scalar()
    cached, _, clock = pair(empty_market_store, registry, recorder)
    await clock.refresh()

    def recorded() -> list[int]:
        recorder.flush()
        with empty_market_store.engine.connect() as conn:
            query = (
                select(predictions.c.as_of)
                .where(predictions.c.symbol == "RECORD")
                .order_by(predictions.c.as_of)
            )
            return [int(t) for t in conn.execute(query).scalars()]

    try:
        for _ in range(3):
            await cached.predict("RECORD", parse_horizons("intraday"))
            await cached.signal("RECORD", "1h")
        first = recorded()
        assert len(first) == 1
        store_synthetic(empty_market_store.engine, "RECORD", "1h", 3600, 401)
        await clock.refresh()
        await settle(cached)
        assert recorded() == first  # computed for the new bar, not served yet: not recorded
        await cached.signal("RECORD", "1h")
        await cached.predict("RECORD", parse_horizons("intraday"))
        assert recorded() == [first[0], first[0] + 3600]
        with empty_market_store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(predictions)).scalar() == recorded_before + 2
    finally:
        recorder.close()


def test_a_message_is_reused_only_for_the_same_forecast_objects() -> None:
    from ml_engine.predictions.handlers import ProtoMemo

    memo: ProtoMemo[list[str]] = ProtoMemo(size=1)
    a, b = object(), object()
    built = memo.get("k", (a,), lambda: ["a"])
    assert memo.get("k", (a,), lambda: ["again"]) is built
    assert memo.get("k", (b,), lambda: ["b"]) == ["b"]  # another forecast: built again
    assert memo.get("k", (b, a), lambda: ["ba"]) == ["ba"]
    memo.get("other", (a,), lambda: ["o"])
    assert memo.get("k", (b, a), lambda: ["evicted"]) == ["evicted"]  # size 1: "k" went first
