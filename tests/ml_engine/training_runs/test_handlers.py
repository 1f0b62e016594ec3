"""TrainingService through an in-process server with the production interceptors, over real worker
processes: a small real run writes a new version (not activated), a cancel leaves nothing behind, one
run at a time per family, bad input names its field, admins only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ml_engine.models.serving.repository import MANUAL_ACTIVATION_FILE, MODEL_FILE
from ml_engine.training_runs.handlers import TrainingHandlers
from ml_engine.training_runs.runs import TrainingRuns
from tests.ml_engine.in_process import serve
from tests.ml_engine.models.conftest import serving_settings, start_serving
from tests.ml_engine.training_runs.conftest import END, START, XGB_MODELS, shadowed
from tests.support.in_process import TestCallers, violated_fields
from trading.ml.v1 import training_service_pb2 as pb
from trading.ml.v1 import training_service_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["TrainingService"].full_name


@pytest.fixture
async def stub(runs: TrainingRuns, callers: TestCallers) -> AsyncIterator[pb_grpc.TrainingServiceStub]:
    handlers = TrainingHandlers(runs)
    async with serve(
        SERVICE, lambda server: pb_grpc.add_TrainingServiceServicer_to_server(handlers, server), callers
    ) as channel:
        yield pb_grpc.TrainingServiceStub(channel)


def admin(callers: TestCallers) -> tuple[tuple[str, str], ...]:
    return callers.metadata(subject="admin-7", roles=("admin",), plan="pro")


def request(**changes: object) -> pb.StartTrainingRunRequest:
    values: dict[str, object] = {
        "family": pb.MODEL_FAMILY_XGBOOST,
        "horizon": "intraday",
        "symbols": ["EURUSD"],
        "start": Timestamp(seconds=START),
        "end": Timestamp(seconds=END),
        "folds": 2,
    }
    values.update(changes)
    return pb.StartTrainingRunRequest(**values)  # type: ignore[arg-type]


def leftovers(repo: Path) -> list[str]:
    return sorted(p.name for p in repo.iterdir() if p.name.startswith("."))


async def test_a_run_writes_a_new_version_with_its_card_that_is_listed_but_not_activated(
    stub: pb_grpc.TrainingServiceStub, callers: TestCallers, repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry, activation = await start_serving(serving_settings(repo))
    try:
        caplog.set_level(logging.INFO, logger="ml_engine.audit")
        started = (await stub.StartTrainingRun(request(), metadata=admin(callers))).run
        assert started.state == pb.TRAINING_RUN_STATE_PENDING and started.started_by == "admin-7"
        # One run at a time per family.
        with pytest.raises(grpc.aio.AioRpcError) as busy:
            await stub.StartTrainingRun(request(), metadata=admin(callers))
        assert busy.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert started.run_id in (busy.value.details() or "")

        updates = [
            u.run
            async for u in stub.StreamTrainingRun(
                pb.StreamTrainingRunRequest(run_id=started.run_id), metadata=admin(callers)
            )
        ]
        final = updates[-1]
        assert final.state == pb.TRAINING_RUN_STATE_SUCCEEDED, final.error
        assert [u.progress.fold for u in updates if u.progress.stage == "fold"] == [1, 2]
        assert final.produced_version == "2" and list(final.models) == list(XGB_MODELS)
        assert final.progress.percent == 100.0 and final.finished_at.seconds > 0
        for name in XGB_MODELS:
            version = repo / name / "2"
            assert (version / MODEL_FILE).stat().st_size > 0
            assert f"# {name}" in (version / "README.md").read_text()
            assert (version / MANUAL_ACTIVATION_FILE).exists()
        assert leftovers(repo) == []
        assert shadowed == [(name, "2") for name in XGB_MODELS]

        # The file watch lists the new version and leaves version 1 serving (two passes: the
        # watch activates a new version only once its file stayed the same for two scans).
        await activation.refresh()
        await activation.refresh()
        for name in XGB_MODELS:
            entry = registry.entry(name)
            assert entry.active_version == "1"
            assert [v.version for v in entry.versions] == ["1", "2"]
            assert entry.versions[1].state.value == "AVAILABLE"

        got = (
            await stub.GetTrainingRun(
                pb.GetTrainingRunRequest(run_id=started.run_id), metadata=admin(callers)
            )
        ).run
        assert got == final
        listed = (await stub.ListTrainingRuns(pb.ListTrainingRunsRequest(), metadata=admin(callers))).runs
        assert [r.run_id for r in listed] == [started.run_id]
        # Finished: nothing to cancel.
        with pytest.raises(grpc.aio.AioRpcError) as finished:
            await stub.CancelTrainingRun(
                pb.CancelTrainingRunRequest(run_id=started.run_id), metadata=admin(callers)
            )
        assert finished.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        audited = [(r.action, r.outcome) for r in caplog.records if r.name == "ml_engine.audit"]  # type: ignore[attr-defined]
        assert ("start_training_run", "started") in audited and ("start_training_run", "refused") in audited
    finally:
        await activation.stop()


async def test_a_cancelled_run_leaves_no_partial_version_behind(
    stub: pb_grpc.TrainingServiceStub, callers: TestCallers, repo: Path
) -> None:
    before = sorted(str(p.relative_to(repo)) for p in repo.rglob("*"))
    started = (await stub.StartTrainingRun(request(), metadata=admin(callers))).run
    stream = stub.StreamTrainingRun(
        pb.StreamTrainingRunRequest(run_id=started.run_id), metadata=admin(callers)
    )
    async for update in stream:
        if update.run.progress.stage == "fold":  # the worker is fitting: its work folder exists
            assert leftovers(repo) == [f".training-{started.run_id}"]
            break
    cancelled = (
        await stub.CancelTrainingRun(
            pb.CancelTrainingRunRequest(run_id=started.run_id), metadata=admin(callers)
        )
    ).run
    assert cancelled.state == pb.TRAINING_RUN_STATE_CANCELLED and cancelled.produced_version == ""
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*")) == before
    assert shadowed == []
    # The family is free again once the cancelled run is over.
    again = (await stub.StartTrainingRun(request(), metadata=admin(callers))).run
    await stub.CancelTrainingRun(pb.CancelTrainingRunRequest(run_id=again.run_id), metadata=admin(callers))
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*")) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"family": pb.MODEL_FAMILY_UNSPECIFIED}, "family"),
        ({"horizon": "weekly"}, "horizon"),
        ({"symbols": ["NOPE"]}, "symbols"),
        ({"symbols": []}, "symbols"),
        ({"horizon": "intraday", "symbols": ["GOOG"]}, "symbols"),  # stored daily: too coarse for 1h
        ({"end": Timestamp(seconds=START + 200 * 3600)}, "start"),  # too few bars for the walk-forward
        ({"end": Timestamp(seconds=START - 3600)}, "end"),
        ({"folds": 9}, "folds"),
    ],
)
async def test_bad_input_names_the_field(
    stub: pb_grpc.TrainingServiceStub,
    callers: TestCallers,
    changes: dict[str, object],
    field: str,
    repo: Path,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.StartTrainingRun(request(**changes), metadata=admin(callers))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(refused.value) == [field]
    assert leftovers(repo) == []


async def test_only_admins_use_the_training_service(
    stub: pb_grpc.TrainingServiceStub, callers: TestCallers
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.StartTrainingRun(request(), metadata=callers.metadata(roles=("user",), plan="pro"))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetTrainingRun(pb.GetTrainingRunRequest(run_id="nope"), metadata=admin(callers))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
