"""Predict and GetSignals' application layer on the real EURUSD sample with the committed models."""

from __future__ import annotations

import asyncio
import hashlib
import json
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from ml_engine.market_data.bar_windows import BarWindows, Series
from ml_engine.market_data.domain.timeframes import TIMEFRAMES
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.arrivals import Arrival, Landing
from ml_engine.models.serving.inputs import model_input
from ml_engine.models.serving.registry import Inference, ModelRegistry
from ml_engine.predictions.data.prediction_repository import PredictionStore, predictions
from ml_engine.predictions.domain.adaptive import AdaptiveConformal, AdaptiveSettings
from ml_engine.predictions.domain.combine import combine, models_to_run
from ml_engine.predictions.domain.ensemble import HorizonEnsemble, Member
from ml_engine.predictions.domain.features import (
    FEATURE_NAMES,
    FEATURE_SCHEMA_HASH,
    FEATURE_WARMUP,
    compute_features,
)
from ml_engine.predictions.domain.horizons import HORIZONS, parse_horizons
from ml_engine.predictions.domain.intervals import Interval
from ml_engine.predictions.domain.model_metadata import OUTPUT_COLUMNS, ModelMetadata
from ml_engine.predictions.domain.signals import Action, decide
from ml_engine.predictions.explain import XgbExplainer
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.shared.database import MarketStore
from service_runtime.errors import DependencyUnavailable, FailedPrecondition, InvalidArgument, NotFound
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving import tiny_models as tiny
from tests.ml_engine.predictions.support import MODEL_REPOSITORY, manifest, settings, store_synthetic

SERVED = [h for h in ("intraday", "swing", "position") if h in manifest()]


def forecaster(
    store: MarketStore, registry: ModelRegistry, recorder: PredictionRecorder | None = None
) -> Forecaster:
    import_sample(store.engine, "EURUSD")
    return Forecaster(
        BarWindows(store.engine), registry, manifest(), recorder, XgbExplainer(MODEL_REPOSITORY)
    )


def complete_bars(store: MarketStore, timeframe: str, end: int | None = None):  # type: ignore[no-untyped-def]
    series = Series("EURUSD", TIMEFRAMES["1h"], TIMEFRAMES[timeframe])
    bars = BarWindows(store.engine).latest(series, 301, end=end).bars
    return bars if bars.last_complete else bars.slice(0, len(bars) - 1)


def test_models_are_shipped_for_the_horizons_with_real_data() -> None:
    assert set(SERVED) == {"intraday", "swing", "position"}
    assert "scalping" not in manifest()  # no real 5m data: no model


async def test_predict_all_horizons_matches_the_models_run_by_hand(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    result = await forecaster(market_store, registry).predict("eurusd", parse_horizons("all"))
    assert result.symbol == "EURUSD"
    assert [p.horizon.name for p in result.predictions] == SERVED
    assert len(result.skipped) == 1 and result.skipped[0].startswith("scalping: ")
    assert (
        "import them with make import-bars ARGS='<file.csv> --symbol EURUSD --timeframe 5m'"
        in result.skipped[0]
    )
    for p in result.predictions:
        ensemble = manifest()[p.horizon.name]
        bars = complete_bars(market_store, p.horizon.timeframe)
        assert p.as_of == int(bars.times[-1]) and p.close == bars.close[-1]
        features = compute_features(bars)
        np.testing.assert_array_equal(np.asarray(p.features), features[-1])
        values = {}
        for name in models_to_run(ensemble):
            meta = registry.metadata(name)
            out = registry.infer_sync(name, model_input(meta, features)).values[0]
            values.update({(name, c): float(out[j]) for j, c in enumerate(meta.output_columns)})
        expected = combine(ensemble, values, float(features[-1, FEATURE_NAMES.index("atr_pct")]))
        assert p.predicted_high_pct == pytest.approx(expected.range_high_pct, abs=1e-6)
        assert p.predicted_low_pct == pytest.approx(expected.range_low_pct, abs=1e-6)
        assert p.tp_long == pytest.approx(expected.tp_long, abs=1e-6)
        assert p.tp_short == pytest.approx(expected.tp_short, abs=1e-6)
        assert p.predicted_high == pytest.approx(p.close * (1 + p.predicted_high_pct / 100))
        assert p.predicted_low <= p.predicted_high
        assert p.atr > 0 and p.inference_ms > 0
        used = {u.name: u for u in p.models}
        for name in models_to_run(ensemble):
            assert used[name].version == registry.metadata(name).version
            assert used[name].provider == "CPUExecutionProvider"
        assert p.range_source in ("models", "baseline")
        assert len(p.prediction_id) == 64


async def test_scalping_alone_is_refused_naming_the_import(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    with pytest.raises(FailedPrecondition) as error:
        await forecaster(market_store, registry).predict("EURUSD", parse_horizons("scalping"))
    assert error.value.message == (
        "scalping needs 5m bars of EURUSD (stored: 1h); import them with "
        "make import-bars ARGS='<file.csv> --symbol EURUSD --timeframe 5m'"
    )


async def test_unknown_symbol_and_bad_horizon(market_store: MarketStore, registry: ModelRegistry) -> None:
    with pytest.raises(NotFound):
        await forecaster(market_store, registry).predict("NOPE", parse_horizons("intraday"))
    with pytest.raises(InvalidArgument) as error:
        parse_horizons("weekly")
    assert error.value.violations[0].field == "horizon"


async def test_too_little_history_says_how_many_bars(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    store_synthetic(market_store.engine, "SHORTHIST", "1h", 3600, 50)
    f = forecaster(market_store, registry)
    with pytest.raises(FailedPrecondition) as error:
        await f.predict("SHORTHIST", parse_horizons("intraday"))
    windows = [registry.metadata(n).window_bars for n in models_to_run(manifest()["intraday"])]
    needed = FEATURE_WARMUP + max([1, *windows])
    assert f"needs {needed} bars of 1h, has 50" in error.value.message


async def test_as_of_uses_the_last_bar_complete_by_then(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    f = forecaster(market_store, registry)
    bars = complete_bars(market_store, "1h")
    t = int(bars.times[-100])
    mid = await f.predict("EURUSD", parse_horizons("intraday"), as_of=t + 1800)  # bar t still open
    closed = await f.predict("EURUSD", parse_horizons("intraday"), as_of=t + 3600)
    assert mid.predictions[0].as_of == int(bars.times[-101])
    assert closed.predictions[0].as_of == t
    assert closed.predictions[0].close == bars.close[-100]


async def test_adaptive_intervals_read_only_scores_known_at_the_as_of_bar(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    """No lookahead: a prediction as of bar t reads the live scores of predictions as of the L-th bar
    before t or earlier (their lookahead closed by t's close), never those of later ones."""
    import_sample(market_store.engine, "EURUSD")
    adaptive = AdaptiveConformal(AdaptiveSettings(window=50, prior_weight=0.0, min_scores=1, max_shift=5.0))
    f = Forecaster(BarWindows(market_store.engine), registry, manifest(), adaptive=adaptive)
    intraday = parse_horizons("intraday")
    lookahead = intraday[0].lookahead
    bars = complete_bars(market_store, "1h")
    t = int(bars.times[-100])
    key = ("EURUSD", "1h", lookahead)

    async def interval_at_t() -> Interval:
        interval = (await f.predict("EURUSD", intraday, as_of=t + 3600)).predictions[0].interval()
        assert interval is not None
        return interval

    shipped = await interval_at_t()
    assert shipped.live_scores == 0 and shipped.quantile == manifest()["intraday"].interval_quantiles["0.8"]
    # Huge scores of predictions whose lookahead was still running at t, and of t and later: ignored.
    adaptive.scores.add(key, [(int(bars.times[i]), 9.0) for i in range(-100 - lookahead + 1, -90)])
    assert await interval_at_t() == shipped
    # One score of the prediction as of the L-th bar before t: known, and it moves the interval.
    adaptive.scores.add(key, [(int(bars.times[-100 - lookahead]), 0.25)])
    adapted = await interval_at_t()
    assert (adapted.live_scores, adapted.quantile, adapted.shipped_quantile) == (1, 0.25, shipped.quantile)
    assert adapted.high_pct - adapted.low_pct < shipped.high_pct - shipped.low_pct


async def test_same_prediction_twice_is_recorded_once(
    empty_market_store: MarketStore, registry: ModelRegistry
) -> None:
    with empty_market_store.engine.begin() as conn:
        conn.execute(predictions.delete())
    recorder = PredictionRecorder(PredictionStore(empty_market_store.engine))
    f = forecaster(empty_market_store, registry, recorder)
    first = await f.predict("EURUSD", parse_horizons("all"))
    second = await f.predict("EURUSD", parse_horizons("all"))
    recorder.flush()
    assert [p.prediction_id for p in first.predictions] == [p.prediction_id for p in second.predictions]
    with empty_market_store.engine.connect() as conn:
        rows = conn.execute(select(predictions.c.horizon, func.count()).group_by(predictions.c.horizon)).all()
    assert sorted(rows) == sorted((h, 1) for h in SERVED)
    recorder.close()


async def test_prediction_ids_and_recorded_members_are_the_canonical_json_of_what_ran(
    empty_market_store: MarketStore, registry: ModelRegistry
) -> None:
    """The id is SHA-256 of json.dumps(key, sort_keys=True), written out without rendering the
    members again: the same bytes, so ids stay those of the predictions recorded before."""
    with empty_market_store.engine.begin() as conn:
        conn.execute(predictions.delete())
    recorder = PredictionRecorder(PredictionStore(empty_market_store.engine))
    f = forecaster(empty_market_store, registry, recorder)
    served = await f.predict("EURUSD", parse_horizons("all"))
    recorder.flush()
    ensembles = manifest()
    with empty_market_store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(predictions)).all()}
    for p in served.predictions:
        record = rows[p.prediction_id]
        members = json.loads(record.members)
        assert [(m["name"], m["version"]) for m in members] == [(u.name, u.version) for u in p.models]
        ensemble = ensembles[p.horizon.name]
        key = {
            "members": members,
            "baseline": [
                ensemble.baseline_high_coef,
                ensemble.baseline_low_coef,
                ensemble.tp_long_base_rate,
                ensemble.tp_short_base_rate,
            ],
            "feature_schema": FEATURE_SCHEMA_HASH,
            "symbol": "EURUSD",
            "horizon": p.horizon.name,
            "as_of": p.as_of,
        }
        assert p.prediction_id == hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        version = hashlib.sha256(json.dumps(members, sort_keys=True).encode()).hexdigest()[:12]
        assert record.version == version
    recorder.close()


async def test_signal_follows_the_decision_rule_and_explains_it(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    f = forecaster(market_store, registry)
    for timeframe in ("", "1h"):
        signal = await f.signal("EURUSD", timeframe)
        assert signal.timeframe == "1h" and signal.forecast.horizon.name == "intraday"
        atr_pct = signal.forecast.atr / signal.forecast.close
        forecast = signal.forecast
        expected = decide(forecast.tp_long, forecast.tp_short, manifest()["intraday"], atr_pct=atr_pct)
        assert signal.decision == expected
        assert signal.levels.entry == signal.forecast.close
        if signal.action is Action.HOLD:
            assert signal.levels.take_profit == 0 and signal.levels.stop_loss == 0
        else:
            assert signal.levels.risk_reward == pytest.approx(1.5)
        assert len(signal.explanation) == 5
        shares = [abs(c.contribution) for c in signal.explanation]
        assert shares == sorted(shares, reverse=True)
        for c in signal.explanation:
            assert c.value == pytest.approx(
                signal.forecast.features[FEATURE_NAMES.index(c.feature)], nan_ok=True
            )
        assert signal.summary.startswith(f"{signal.action.value} EURUSD on 1h")


async def test_signal_timeframe_errors(market_store: MarketStore, registry: ModelRegistry) -> None:
    f = forecaster(market_store, registry)
    with pytest.raises(InvalidArgument) as bad:
        await f.signal("EURUSD", "2h")
    assert bad.value.violations[0].field == "timeframe"
    with pytest.raises(FailedPrecondition) as no_data:
        await f.signal("EURUSD", "5m")
    assert (
        "import them with make import-bars ARGS='<file.csv> --symbol EURUSD --timeframe 5m'"
        in no_data.value.message
    )
    # 5-minute bars (synthetic) make 15m bars, but no model reads 15m bars.
    store_synthetic(market_store.engine, "SYNTH5M", "5m", 300, 400)
    with pytest.raises(DependencyUnavailable) as no_model:
        await f.signal("SYNTH5M", "15m")
    assert "no model reads 15m bars" in no_model.value.message
    with pytest.raises(DependencyUnavailable):
        await f.signal("SYNTH5M", "5m")  # scalping: data, but no model is shipped for it
    assert HORIZONS["scalping"].timeframe == "5m"


async def test_a_member_that_is_not_loaded_is_unavailable(
    market_store: MarketStore, registry: ModelRegistry
) -> None:
    import_sample(market_store.engine, "EURUSD")
    ensembles = manifest()
    intraday = ensembles["intraday"]
    members = dict(intraday.members)
    members["tp_long"] = [replace(m, model="intraday_not_shipped") for m in members["tp_long"]]
    ensembles["intraday"] = replace(intraday, members=members)
    f = Forecaster(BarWindows(market_store.engine), registry, ensembles)
    with pytest.raises(DependencyUnavailable) as error:
        await f.predict("EURUSD", parse_horizons("intraday"))
    assert "intraday_not_shipped" in error.value.message


async def test_concurrent_predictions_share_batches_and_every_announcement_lands(
    market_store: MarketStore,
) -> None:
    """On-demand predictions announce their members from the start: batches wait for them (a cap
    too long for the test to outlive, so a request never landed would fail it), and concurrent
    requests run the members together, with the answers a lone request gets."""
    registry, activation = await start_serving(
        settings().model_copy(update={"ml_batch_max_delay_ms": 30_000})
    )
    try:
        f = forecaster(market_store, registry)
        alone = await f.predict("EURUSD", parse_horizons("all"))
        together = await asyncio.wait_for(
            asyncio.gather(*(f.predict("EURUSD", parse_horizons("all")) for _ in range(8))), 20
        )
        for result in together:
            for p, q in zip(result.predictions, alone.predictions, strict=True):
                assert p.predicted_high_pct == pytest.approx(q.predicted_high_pct, abs=1e-6)
                assert p.tp_long == pytest.approx(q.tp_long, abs=1e-6)
        names = {name for h in SERVED for name in models_to_run(manifest()[h])}
        assert all(registry.arrivals.of(name).coming == 0 for name in names)
        assert max(registry.served(name).stats.snapshot().max_batch_size for name in names) > 1
    finally:
        await activation.stop()


class SwapBeforeRun:
    """The registry, with version 2 of every model activated between the forecaster's metadata
    read and its inference run: the hot reload that used to mix two versions' figures."""

    def __init__(self, registry: ModelRegistry, activation: VersionActivation) -> None:
        self.registry = registry
        self.activation = activation
        self.read: list[str] = []

    @property
    def generation(self) -> int:
        return self.registry.generation

    def metadata(self, name: str) -> ModelMetadata:
        meta = self.registry.metadata(name)
        self.read.append(meta.version)
        return meta

    def announced(self, names: list[str]) -> AbstractContextManager[Arrival]:
        return self.registry.announced(names)

    async def infer_last_rows(
        self, names: list[str], features: np.ndarray, arrival: Landing | None = None
    ) -> list[Inference]:
        for name in names:
            await self.activation.activate(name, "2")
        return await self.registry.infer_last_rows(names, features, arrival)


async def test_a_hot_reload_before_the_run_normalises_with_the_version_that_ran(
    market_store: MarketStore, tmp_path: Path
) -> None:
    repo = tmp_path / "models"
    name = "intraday_tiny"
    old = tiny.metadata(name, 1)
    new = tiny.metadata(name, 2, norm_mean=[0.5] * tiny.F, norm_std=[2.0] * tiny.F)
    tiny.write(repo, name, 1, meta=old)
    registry, activation = await start_serving(serving_settings(repo))
    tiny.write(repo, name, 2, meta=new)  # on disk, not active yet
    ensemble = HorizonEnsemble(
        horizon="intraday",
        members={c: [Member(name, c, 1.0)] for c in OUTPUT_COLUMNS},
        baseline_high_coef=1.0,
        baseline_low_coef=-1.0,
        tp_long_base_rate=0.4,
        tp_short_base_rate=0.4,
    )
    store_synthetic(market_store.engine, "RELOAD", "1h", 3600, 400)
    server = SwapBeforeRun(registry, activation)
    try:
        forecast = await Forecaster(BarWindows(market_store.engine), server, {"intraday": ensemble}).predict(
            "RELOAD", parse_horizons("intraday")
        )
    finally:
        await activation.stop()
    p = forecast.predictions[0]
    assert server.read == ["1"] and registry.entry(name).active_version == "2"
    # Provenance: the version that ran.
    assert {(u.name, u.version) for u in p.models} == {(name, "2")}
    # Normalisation: version 2's figures, not the version 1 metadata read before the swap.
    row = np.asarray([p.features])
    ran = tiny.expected(model_input(new, row), 2)[0]
    mixed = tiny.expected(model_input(old, row), 2)[0]
    assert not np.allclose(ran, mixed)
    values = {(name, c): float(ran[j]) for j, c in enumerate(OUTPUT_COLUMNS)}
    combined = combine(ensemble, values, float(row[0, FEATURE_NAMES.index("atr_pct")]))
    assert p.predicted_high_pct == pytest.approx(combined.range_high_pct, abs=1e-4)
    assert p.predicted_low_pct == pytest.approx(combined.range_low_pct, abs=1e-4)
    assert p.tp_long == pytest.approx(combined.tp_long, abs=1e-4)
    assert p.tp_short == pytest.approx(combined.tp_short, abs=1e-4)
