"""ModelService handlers over a real registry, called through an in-process server: listing, card
figures, admin activation + audit, and the access rules of the contract."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from ml_engine.models.handlers import CARD_MAX_BYTES, ModelHandlers
from tests.ml_engine.in_process import serve
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.models.serving.test_activation import slow_loads
from tests.ml_engine.models.serving.tiny_models import write
from tests.support.in_process import TestCallers, violations
from trading.ml.v1 import model_service_pb2 as pb
from trading.ml.v1 import model_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["ModelService"].full_name


@pytest.fixture
async def models(repo: Path, callers: TestCallers) -> AsyncIterator[pb_grpc.ModelServiceStub]:
    write(repo, "intraday_xgb_range_high", 1)
    write(repo, "intraday_xgb_range_high", 2)
    write(repo, "intraday_gru", 1, window=4)
    registry, activation = await start_serving(serving_settings(repo))
    handlers = ModelHandlers(registry, activation)
    try:
        async with serve(
            SERVICE, lambda server: pb_grpc.add_ModelServiceServicer_to_server(handlers, server), callers
        ) as channel:
            yield pb_grpc.ModelServiceStub(channel)
    finally:
        await activation.stop()


async def test_get_model_returns_the_card_text_bounded(
    models: pb_grpc.ModelServiceStub, callers: TestCallers, repo: Path
) -> None:
    user = callers.metadata()
    card = (
        "# intraday_xgb_range_high\n\n| metric | value |\n|---|---|\n| coverage | 0.8 |\n\n"
        "Étude <script>x</script>\n"
    )
    (repo / "intraday_xgb_range_high" / "README.md").write_text(card, encoding="utf-8")
    got = await models.GetModel(pb.GetModelRequest(name="intraday_xgb_range_high"), metadata=user)
    assert (got.card_markdown, got.card_truncated) == (
        card,
        False,
    )  # as written: the client renders it safely
    # No card: empty, not an error.
    none = await models.GetModel(pb.GetModelRequest(name="intraday_gru"), metadata=user)
    assert (none.card_markdown, none.card_truncated, none.model.name) == ("", False, "intraday_gru")
    # A card over the bound is cut at it, on a whole character ("é" is two bytes and straddles it).
    big = "a" * (CARD_MAX_BYTES - 1) + "é" + "tail"
    (repo / "intraday_gru" / "README.md").write_text(big, encoding="utf-8")
    cut = await models.GetModel(pb.GetModelRequest(name="intraday_gru"), metadata=user)
    assert cut.card_truncated and cut.card_markdown == "a" * (CARD_MAX_BYTES - 1)


async def test_list_and_get_models(
    models: pb_grpc.ModelServiceStub, callers: TestCallers, repo: Path
) -> None:
    user = callers.metadata()
    listed = await models.ListModels(pb.ListModelsRequest(), metadata=user)
    assert [m.name for m in listed.models] == ["intraday_gru", "intraday_xgb_range_high"]
    assert listed.repository == str(repo)
    model = (await models.GetModel(pb.GetModelRequest(name="intraday_xgb_range_high"), metadata=user)).model
    assert model.active_version == "2" and model.family == "xgboost" and model.horizon == "intraday"
    assert model.target == "range_tpsl" and model.lookahead_bars == 8 and len(model.feature_names) == 23
    assert model.card_path == "ml_engine/model_repository/intraday_xgb_range_high/README.md"
    v1, v2 = model.versions
    assert v2.state == pb.MODEL_STATE_READY and v2.execution_provider == "CPUExecutionProvider"
    assert (
        v2.intended_provider == "CPUExecutionProvider"
        and len(v2.file_sha256) == 64
        and v2.loaded_at.seconds > 0
    )
    assert (
        v1.state == pb.MODEL_STATE_AVAILABLE and v1.metrics["coverage"] == 0.8
    )  # card figures of an unloaded version
    assert v2.baseline_metrics["mae_pct"] == 0.35 and v2.beats_baseline
    assert v2.training_start.ToJsonString() == "2020-01-01T00:00:00Z" and v2.training_data_sha256 == "0" * 64
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await models.GetModel(pb.GetModelRequest(name="nope"), metadata=user)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as unnamed:
        await models.GetModel(pb.GetModelRequest(), metadata=user)
    assert unnamed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in violations(unnamed.value)] == ["name"]
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await models.ListModels(pb.ListModelsRequest())
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_activation_is_audited(
    models: pb_grpc.ModelServiceStub, callers: TestCallers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ml_engine.audit")
    admin = callers.metadata(subject="admin-7", roles=("admin",), plan="pro")
    reply = await models.ActivateModelVersion(
        pb.ActivateModelVersionRequest(name="intraday_xgb_range_high", version="1"), metadata=admin
    )
    assert reply.model.active_version == "1"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await models.ActivateModelVersion(
            pb.ActivateModelVersionRequest(name="intraday_xgb_range_high", version="7"), metadata=admin
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value)[0][0] == "version"
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await models.ActivateModelVersion(
            pb.ActivateModelVersionRequest(name="nope", version="1"), metadata=admin
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    # Only admins activate: a user is refused before the handler runs (so nothing is audited).
    with pytest.raises(grpc.aio.AioRpcError) as user:
        await models.ActivateModelVersion(
            pb.ActivateModelVersionRequest(name="intraday_xgb_range_high", version="2"),
            metadata=callers.metadata(),
        )
    assert user.value.code() == grpc.StatusCode.PERMISSION_DENIED
    records = [r.__dict__ for r in caplog.records if r.name == "ml_engine.audit"]
    assert [
        (r["actor"], r["model"], r.get("from_version"), r["to_version"], r["outcome"]) for r in records
    ] == [
        ("admin-7", "intraday_xgb_range_high", "2", "1", "activated"),
        ("admin-7", "intraday_xgb_range_high", "1", "7", "refused"),
        ("admin-7", "nope", None, "1", "refused"),
    ]


async def test_a_version_in_other_digits_is_refused_naming_version_and_audited(
    models: pb_grpc.ModelServiceStub, callers: TestCallers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ml_engine.audit")
    admin = callers.metadata(subject="admin-7", roles=("admin",), plan="pro")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await models.ActivateModelVersion(
            pb.ActivateModelVersionRequest(name="intraday_xgb_range_high", version="²"), metadata=admin
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(caught.value)[0][0] == "version"
    records = [r.__dict__ for r in caplog.records if r.name == "ml_engine.audit"]
    assert [(r["to_version"], r["outcome"]) for r in records] == [("²", "refused")]


async def test_an_activation_whose_call_is_cancelled_takes_effect_and_is_audited(
    repo: Path, callers: TestCallers, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's deadline passes while the version loads (Envoy's 30 s route timeout, a client that
    goes): the activation still completes, and is audited."""
    write(repo, "m", 1)
    write(repo, "m", 2)
    registry, activation = await start_serving(serving_settings(repo))
    handlers = ModelHandlers(registry, activation)
    caplog.set_level(logging.INFO, logger="ml_engine.audit")
    slow_loads(monkeypatch, 0.4)
    admin = callers.metadata(subject="admin-7", roles=("admin",))
    try:
        async with serve(
            SERVICE, lambda server: pb_grpc.add_ModelServiceServicer_to_server(handlers, server), callers
        ) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as late:
                await pb_grpc.ModelServiceStub(channel).ActivateModelVersion(
                    pb.ActivateModelVersionRequest(name="m", version="1"), metadata=admin, timeout=0.1
                )
            assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            for _ in range(100):
                await asyncio.sleep(0.02)
                if any(r.name == "ml_engine.audit" for r in caplog.records):
                    break
        records = [r.__dict__ for r in caplog.records if r.name == "ml_engine.audit"]
        assert [(r["model"], r["from_version"], r["to_version"], r["outcome"]) for r in records] == [
            ("m", "2", "1", "activated")
        ]
        assert registry.entry("m").active_version == "1"
    finally:
        await activation.stop()
