"""ModelPromotionService and PredictionService on one in-process server (production interceptors),
over the committed models and the EURUSD sample: a shadow version never reaches a user's answer but
is recorded and scored; comparison, promotion under load, the access rules, the audit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import onnx
import pytest
import pytest_asyncio
from google.protobuf.message import Message
from onnx import helper, numpy_helper
from sqlalchemy import select

from ml_engine.config import MlEngineSettings
from ml_engine.market_data.bar_clock import BarClock
from ml_engine.market_data.bar_windows import BarWindows
from ml_engine.market_data.data import repository as market_repository
from ml_engine.market_data.feeds.replay import ReplayFeed
from ml_engine.market_data.importing.importer import import_sample
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.registry import Inference, ModelRegistry
from ml_engine.models.serving.repository import MODEL_FILE
from ml_engine.models.serving.shadow import ShadowRegistry
from ml_engine.predictions.data.prediction_repository import (
    ACTIVE,
    Outcome,
    PredictionRecord,
    PredictionStore,
    insert_ignore,
    mark_realized,
    predictions,
)
from ml_engine.predictions.domain.horizons import parse_horizons
from ml_engine.predictions.forecaster import Forecaster
from ml_engine.predictions.handlers import PredictionHandlers, add_prediction_service
from ml_engine.predictions.recording import PredictionRecorder
from ml_engine.predictions.scoring import Scorer
from ml_engine.predictions.streams import StreamHub
from ml_engine.promotion.handlers import PromotionHandlers
from ml_engine.promotion.service import AUTO_PROMOTE_ACTOR, PromotionService
from ml_engine.shared.database import MarketStore
from service_runtime.in_process import serve_in_process
from tests.ml_engine.models.conftest import start_serving
from tests.ml_engine.predictions.support import MODEL_REPOSITORY, manifest, settings
from tests.support.in_process import TestCallers, violations
from trading.ml.v1 import model_promotion_service_pb2 as pb
from trading.ml.v1 import model_promotion_service_pb2_grpc as pb_grpc
from trading.ml.v1 import prediction_service_pb2 as pred_pb
from trading.ml.v1 import prediction_service_pb2_grpc as pred_grpc

PROMOTION = pb.DESCRIPTOR.services_by_name["ModelPromotionService"].full_name
PREDICTION = pred_pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
# A member of the intraday ensemble. Its committed versions 1 and 2 answer the same (a deterministic
# retrain); the candidate is version 3, version 2's graph with its outputs scaled, written once the
# registry serves version 2.
MODEL = "intraday_xgb_range_high"
CANDIDATE = "3"
VARIANT = f"shadow:{MODEL}@{CANDIDATE}"


def write_scaled_version(root: Path, name: str, source: int, target: int, factor: float) -> None:
    """`<name>/<target>/model.onnx`: version `source`'s graph, outputs multiplied by `factor`."""
    model = onnx.load(str(root / name / str(source) / MODEL_FILE))
    graph = model.graph
    out = graph.output[0].name
    for node in graph.node:
        node.output[:] = [f"{o}_unscaled" if o == out else o for o in node.output]
    graph.initializer.append(numpy_helper.from_array(np.array(factor, dtype=np.float32), "scale"))
    graph.node.append(helper.make_node("Mul", [f"{out}_unscaled", "scale"], [out]))
    folder = root / name / str(target)
    folder.mkdir()
    onnx.save(model, str(folder / MODEL_FILE))


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


@dataclass
class Stack:
    promotion: pb_grpc.ModelPromotionServiceStub
    predictions: pred_grpc.PredictionServiceStub
    service: PromotionService
    forecaster: Forecaster
    recorder: PredictionRecorder
    scorer: Scorer
    registry: ModelRegistry
    store: MarketStore
    last_bar: int

    async def settle(self) -> None:
        """The shadow computations (background tasks) and the recorder's writes, done."""
        await self.forecaster.settle()
        await asyncio.to_thread(self.recorder.flush)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("promotion") / "models"
    shutil.copytree(MODEL_REPOSITORY, root)
    return root


def promotion_settings(root: Path, **overrides: object) -> MlEngineSettings:
    values = settings().model_dump()
    values.update({"model_path": str(root), "ml_auto_promote_min_scored": 16, **overrides})
    return MlEngineSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served_models(repository: Path) -> AsyncIterator[tuple[ModelRegistry, VersionActivation]]:
    registry, activation = await start_serving(promotion_settings(repository))
    write_scaled_version(repository, MODEL, 2, int(CANDIDATE), 0.8)
    try:
        yield registry, activation
    finally:
        await activation.stop()


async def stack(
    store: MarketStore,
    models: tuple[ModelRegistry, VersionActivation],
    callers: TestCallers,
    config: MlEngineSettings,
) -> AsyncIterator[Stack]:
    registry, activation = models
    import_sample(store.engine, "EURUSD")
    windows = BarWindows(store.engine)
    recorder = PredictionRecorder(PredictionStore(store.engine))
    shadows = ShadowRegistry(registry, config)
    forecaster = Forecaster(windows, registry, manifest(), recorder, shadows=shadows)
    hub = StreamHub(forecaster, ReplayFeed(windows, speed=1e9, history=3, loop=False, sleep=no_wait))
    scorer = Scorer(windows, manifest())
    service = PromotionService(shadows, activation, store.engine, config)
    with store.engine.connect() as conn:
        last = market_repository.last_bar_time(conn, "EURUSD", "1h")
    assert last is not None
    try:
        async with serve_in_process(
            service_names=[PROMOTION, PREDICTION],
            registrars=[
                lambda server: add_prediction_service(PredictionHandlers(forecaster, hub, scorer), server),
                lambda server: pb_grpc.add_ModelPromotionServiceServicer_to_server(
                    PromotionHandlers(service), server
                ),
            ],
            verifier=callers.verifier(),
        ) as served:
            yield Stack(
                pb_grpc.ModelPromotionServiceStub(served.channel),
                pred_grpc.PredictionServiceStub(served.channel),
                service,
                forecaster,
                recorder,
                scorer,
                registry,
                store,
                last,
            )
    finally:
        recorder.close()


@pytest_asyncio.fixture(loop_scope="session")
async def s(
    empty_market_store: MarketStore,
    served_models: tuple[ModelRegistry, VersionActivation],
    callers: TestCallers,
    repository: Path,
) -> AsyncIterator[Stack]:
    async for value in stack(empty_market_store, served_models, callers, promotion_settings(repository)):
        yield value


def without_timings(message: Message) -> bytes:
    """The answer as a user gets it, less the time the computation took (it differs call to call)."""
    copy = type(message)()
    copy.CopyFrom(message)
    if isinstance(copy, pred_pb.PredictResponse):
        for prediction in copy.predictions:
            prediction.ClearField("inference_ms")
    return copy.SerializeToString(deterministic=True)


def as_of_times(s: Stack, count: int) -> list[int]:
    """Bars far enough back that their lookahead (8 bars) is stored: scorable at once."""
    return [s.last_bar - 3600 * (20 + k) for k in range(count)]


async def predict_at(s: Stack, user: tuple[tuple[str, str], ...], times: list[int]) -> list[bytes]:
    answers = []
    for t in times:
        request = pred_pb.PredictRequest(symbol="EURUSD", horizon="intraday")
        request.as_of.seconds = t
        answers.append(without_timings(await s.predictions.Predict(request, metadata=user)))
    return answers


def rows(s: Stack) -> list[dict[str, object]]:
    with s.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(predictions))]


async def test_a_shadow_never_reaches_a_user_answer_but_is_recorded_and_scored(
    s: Stack, callers: TestCallers
) -> None:
    user, admin = callers.metadata(plan="pro"), callers.metadata(subject="admin-1", roles=("admin",))
    times = as_of_times(s, 20)
    before = await predict_at(s, user, times)
    signal_before = await s.predictions.GetSignals(pred_pb.GetSignalsRequest(symbol="EURUSD"), metadata=user)
    await s.settle()
    assert {r["variant"] for r in rows(s)} == {ACTIVE}

    started = await s.promotion.StartShadow(
        pb.StartShadowRequest(name=MODEL, version=CANDIDATE), metadata=admin
    )
    assert (started.shadow.shadow_version, started.shadow.active_version) == (CANDIDATE, "2")
    assert started.shadow.horizon == "intraday"
    # The same predictions again, the shadow running: every answer is byte for byte the same.
    after = await predict_at(s, user, times)
    signal_after = await s.predictions.GetSignals(pred_pb.GetSignalsRequest(symbol="EURUSD"), metadata=user)
    assert after == before
    assert without_timings(signal_after) == without_timings(signal_before)
    await s.settle()
    recorded = rows(s)
    shadow_rows = [r for r in recorded if r["variant"] == VARIANT]
    active_rows = [r for r in recorded if r["variant"] == ACTIVE]
    # One shadow row per distinct prediction (20 as-of bars + the signal's latest bar); the active
    # rows were recorded once (the repeats are the same predictions).
    assert len(shadow_rows) == len(active_rows) == 21
    assert all(
        f'"name": "{MODEL}", "target": "range_high", "version": "{CANDIDATE}"' in str(r["members"])
        for r in shadow_rows
    )
    assert all(
        f'"name": "{MODEL}", "target": "range_high", "version": "2"' in str(r["members"]) for r in active_rows
    )
    assert any(
        (a["predicted_high"], a["predicted_low"]) != (b["predicted_high"], b["predicted_low"])
        for a, b in zip(
            sorted(active_rows, key=lambda r: r["as_of"]),
            sorted(shadow_rows, key=lambda r: r["as_of"]),
            strict=True,
        )
    )

    # Scored by the same scorer; the users' scores are the same with and without the shadow rows.
    assert await asyncio.to_thread(s.scorer.score_once) == 40  # the latest bar's two are not due yet
    scores = await s.predictions.GetPredictionScores(pred_pb.GetPredictionScoresRequest(), metadata=user)
    assert {score.realized for score in scores.scores} == {20}
    with s.store.engine.begin() as conn:
        conn.execute(predictions.delete().where(predictions.c.variant != ACTIVE))
    again = await s.predictions.GetPredictionScores(pred_pb.GetPredictionScoresRequest(), metadata=user)
    assert again == scores


async def test_compare_and_promote_under_load_with_zero_failures(
    s: Stack, callers: TestCallers, caplog: pytest.LogCaptureFixture
) -> None:
    user, admin = callers.metadata(plan="pro"), callers.metadata(subject="admin-1", roles=("admin",))
    await s.promotion.StartShadow(pb.StartShadowRequest(name=MODEL, version=CANDIDATE), metadata=admin)
    await predict_at(s, user, as_of_times(s, 24))
    await s.settle()
    await asyncio.to_thread(s.scorer.score_once)
    compared = await s.promotion.CompareShadow(pb.CompareShadowRequest(name=MODEL), metadata=admin)
    assert [m.metric for m in compared.metrics] == ["range_mae_pct", "tp_long_brier", "tp_short_brier"]
    mae = compared.metrics[0]
    assert mae.n == 24 and mae.mean_loss_active > 0 and mae.mean_loss_shadow > 0
    assert mae.mean_loss_active != mae.mean_loss_shadow and 0 <= mae.p_value <= 1
    # Only the range-high member differs: the TP losses are the same, no difference there.
    assert compared.metrics[1].verdict == pb.SHADOW_VERDICT_NO_SIGNIFICANT_DIFFERENCE
    assert compared.verdict != pb.SHADOW_VERDICT_UNSPECIFIED and compared.summary
    assert compared.p_value_threshold == 0.05
    listed = await s.promotion.ListShadows(pb.ListShadowsRequest(), metadata=admin)
    assert [(x.name, x.recorded, x.scored) for x in listed.shadows] == [(MODEL, 24, 24)]
    assert not listed.auto_promote and listed.auto_promote_min_scored == 16

    # Users keep asking while the admin promotes; each keeps on until it has had two answers asked for
    # after the promotion returned. No request fails.
    promoted_event = asyncio.Event()
    results: list[object] = []
    after: dict[int, int] = {}

    async def keep_predicting(k: int) -> None:
        after[k] = 0
        while after[k] < 2:
            request = pred_pb.PredictRequest(symbol="EURUSD", horizon="intraday")
            request.as_of.seconds = s.last_bar - 3600 * (k % 5)
            asked_after = promoted_event.is_set()
            try:
                results.append(await s.predictions.Predict(request, metadata=user))
            except grpc.aio.AioRpcError as error:
                results.append(error)
            after[k] += asked_after

    users = [asyncio.create_task(keep_predicting(k)) for k in range(8)]
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.INFO, logger="ml_engine.audit"):
        promoted = await s.promotion.PromoteShadow(pb.PromoteShadowRequest(name=MODEL), metadata=admin)
    promoted_event.set()
    await asyncio.gather(*users)
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert failures == [] and len(results) >= 8 * 3
    assert (promoted.from_version, promoted.active_version) == ("2", CANDIDATE)
    assert s.registry.entry(MODEL).active_version == CANDIDATE
    served_versions = {
        m.version
        for r in results
        if isinstance(r, pred_pb.PredictResponse)
        for p in r.predictions
        for m in p.models
        if m.name == MODEL
    }
    assert served_versions <= {"2", CANDIDATE} and CANDIDATE in served_versions
    audit = [r for r in caplog.records if getattr(r, "action", "") == "promote_shadow"]
    assert [(r.outcome, r.from_version, r.to_version, r.actor) for r in audit] == [  # type: ignore[attr-defined]
        ("promoted", "2", CANDIDATE, "admin-1")
    ]
    # The shadow ended with the promotion; version 2 comes back by activation, for the next test.
    assert (await s.promotion.ListShadows(pb.ListShadowsRequest(), metadata=admin)).shadows == []
    await s.service.activation.activate(MODEL, "2")


async def test_admin_only_and_bad_input_name_the_field(s: Stack, callers: TestCallers) -> None:
    user, admin = callers.metadata(plan="pro"), callers.metadata(subject="admin-1", roles=("admin",))
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await s.promotion.ListShadows(pb.ListShadowsRequest(), metadata=user)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await s.promotion.ListShadows(pb.ListShadowsRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for request, field in (
        (pb.StartShadowRequest(name="", version="1"), "name"),
        (pb.StartShadowRequest(name=MODEL, version=""), "version"),
        (pb.StartShadowRequest(name=MODEL, version="v9"), "version"),
        (pb.StartShadowRequest(name=MODEL, version="9"), "version"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await s.promotion.StartShadow(request, metadata=admin)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in violations(bad.value)] == [field]
    with pytest.raises(grpc.aio.AioRpcError) as active:
        await s.promotion.StartShadow(pb.StartShadowRequest(name=MODEL, version="2"), metadata=admin)
    assert active.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    for call in (
        s.promotion.CompareShadow(pb.CompareShadowRequest(name=MODEL), metadata=admin),
        s.promotion.PromoteShadow(pb.PromoteShadowRequest(name=MODEL), metadata=admin),
        s.promotion.StopShadow(pb.StopShadowRequest(name=MODEL), metadata=admin),
        s.promotion.StartShadow(pb.StartShadowRequest(name="no_such_model", version="1"), metadata=admin),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_refusals_of_the_handlers_own_checks_are_audited(
    s: Stack, callers: TestCallers, caplog: pytest.LogCaptureFixture
) -> None:
    """Start, stop and promote are audited, refusals too: the name and version checks included."""
    admin = callers.metadata(subject="admin-1", roles=("admin",))
    caplog.set_level(logging.INFO, logger="ml_engine.audit")
    for rpc, request, field in (
        ("StartShadow", pb.StartShadowRequest(name=" ", version="3"), "name"),
        ("StartShadow", pb.StartShadowRequest(name=MODEL, version=" "), "version"),
        ("StartShadow", pb.StartShadowRequest(name=MODEL, version="²"), "version"),
        ("StopShadow", pb.StopShadowRequest(name=""), "name"),
        ("PromoteShadow", pb.PromoteShadowRequest(name=" "), "name"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await getattr(s.promotion, rpc)(request, metadata=admin)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in violations(bad.value)] == [field]
    audit = [r for r in caplog.records if r.name == "ml_engine.audit"]
    assert [(r.__dict__["action"], r.__dict__["actor"], r.__dict__["outcome"]) for r in audit] == [
        ("start_shadow", "admin-1", "refused"),
        ("start_shadow", "admin-1", "refused"),
        ("start_shadow", "admin-1", "refused"),
        ("stop_shadow", "admin-1", "refused"),
        ("promote_shadow", "admin-1", "refused"),
    ]


def scored_record(s: Stack, as_of: int, variant: str, high: float) -> tuple[PredictionRecord, Outcome]:
    """A recorded intraday prediction as of `as_of` (close 100, realised range 101 / 99) predicting
    `high`, and its outcome; the id tells variants apart."""
    record = PredictionRecord(
        id=f"{variant}-{as_of}",
        model="intraday_ensemble",
        version="v",
        symbol="EURUSD",
        horizon="intraday",
        timeframe="1h",
        as_of=as_of,
        lookahead=8,
        close=100.0,
        atr=0.5,
        predicted_high=high,
        predicted_low=99.0,
        tp_long=0.4,
        tp_short=0.3,
        members="[]",
        created_at=as_of,
        variant=variant,
    )
    return record, Outcome(record.id, as_of, 101.0, 99.0, 1.0, 0.0)


async def test_auto_promotion_fires_after_a_scoring_pass_and_is_audited(
    s: Stack, callers: TestCallers, repository: Path, caplog: pytest.LogCaptureFixture
) -> None:
    admin = callers.metadata(subject="admin-1", roles=("admin",))
    await s.promotion.StartShadow(pb.StartShadowRequest(name=MODEL, version=CANDIDATE), metadata=admin)
    # 40 scored bars on which the shadow's high is closer to what happened than the active one's.
    written = [
        scored_record(s, t, variant, high)
        for k, t in enumerate(as_of_times(s, 40))
        for variant, high in ((ACTIVE, 102.0 + 0.2 * (k % 3)), (VARIANT, 101.3 + 0.1 * (k % 2)))
    ]
    with s.store.engine.begin() as conn:
        for record, _ in written:
            insert_ignore(conn, record)
        mark_realized(conn, [outcome for _, outcome in written])
    # Off (the default): the comparison says better, nothing is promoted.
    compared = await s.promotion.CompareShadow(pb.CompareShadowRequest(name=MODEL), metadata=admin)
    assert compared.verdict == pb.SHADOW_VERDICT_SHADOW_BETTER and compared.metrics[0].n == 40
    assert await s.service.after_scoring() == []
    assert s.registry.entry(MODEL).active_version == "2"

    auto = PromotionService(
        s.service.shadows,
        s.service.activation,
        s.store.engine,
        promotion_settings(repository, ml_auto_promote=True),
    )
    with caplog.at_level(logging.INFO, logger="ml_engine.audit"):
        scoring = asyncio.create_task(s.scorer.run(0.01, after_pass=auto.after_scoring))
        try:
            for _ in range(500):
                if auto.auto_promotions:
                    break
                await asyncio.sleep(0.02)
        finally:
            scoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scoring
    assert auto.auto_promotions == 1 and s.registry.entry(MODEL).active_version == CANDIDATE
    audit = [r for r in caplog.records if getattr(r, "action", "") == "promote_shadow"]
    assert len(audit) == 1
    record = audit[0]
    assert (record.actor, record.outcome, record.from_version, record.to_version) == (  # type: ignore[attr-defined]
        AUTO_PROMOTE_ACTOR,
        "promoted",
        "2",
        CANDIDATE,
    )
    assert record.verdict == "shadow_better" and record.p_values["range_mae_pct"] < 0.05  # type: ignore[attr-defined]
    assert s.service.shadows.get(MODEL) is None
    await s.service.activation.activate(MODEL, "2")


class CountingShadows:
    """The shadow registry, counting the shadow runs the forecaster asks for."""

    def __init__(self, shadows: ShadowRegistry) -> None:
        self.shadows = shadows
        self.runs = 0

    def names(self) -> frozenset[str]:
        return self.shadows.names()

    async def infer_last_row(self, name: str, features: np.ndarray) -> Inference:
        self.runs += 1
        return await self.shadows.infer_last_row(name, features)


async def test_the_latest_bar_computes_its_shadow_once_per_bar(
    empty_market_store: MarketStore, served_models: tuple[ModelRegistry, VersionActivation], repository: Path
) -> None:
    registry, _ = served_models
    store = empty_market_store
    import_sample(store.engine, "EURUSD")
    recorder = PredictionRecorder(PredictionStore(store.engine))
    shadows = ShadowRegistry(registry, promotion_settings(repository))
    await shadows.start(MODEL, CANDIDATE)
    counting = CountingShadows(shadows)
    clock = BarClock(store.engine)
    windows = BarWindows(store.engine)
    forecaster = Forecaster(
        windows, registry, manifest(), recorder, clock=clock, latest_cache_size=16, shadows=counting
    )
    await clock.refresh()
    try:
        answers = [await forecaster.predict("EURUSD", parse_horizons("intraday")) for _ in range(3)]
        signal = await forecaster.signal("EURUSD", "1h")
        await forecaster.settle()
        await asyncio.to_thread(recorder.flush)
    finally:
        recorder.close()
    # Three requests and a signal of the same bar: one computation, one shadow run, one row each.
    assert counting.runs == 1
    assert all(a.predictions[0] is answers[0].predictions[0] for a in answers)
    assert signal.forecast is answers[0].predictions[0]
    assert {m.version for m in signal.forecast.models if m.name == MODEL} == {"2"}
    with store.engine.connect() as conn:
        variants = sorted(r.variant for r in conn.execute(select(predictions.c.variant)))
    assert variants == [ACTIVE, VARIANT]
