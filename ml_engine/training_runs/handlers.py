"""TrainingService handlers: requests -> run specs, runs -> messages; start and cancel are audited
on the ml_engine.audit log like ActivateModelVersion."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from ml_engine.shared.audit import AuditRecord, audited
from ml_engine.training_runs.domain.runs import Progress, RunSpec, RunState, TrainingRun
from ml_engine.training_runs.runs import TrainingRuns
from service_runtime.caller import current_caller
from service_runtime.errors import InvalidArgument
from service_runtime.timestamps import to_optional_timestamp, to_timestamp
from trading.ml.v1 import training_service_pb2 as pb
from trading.ml.v1 import training_service_pb2_grpc as pb_grpc

_FAMILY = {
    pb.MODEL_FAMILY_XGBOOST: "xgboost",
    pb.MODEL_FAMILY_GRU: "gru",
    pb.MODEL_FAMILY_TRANSFORMER: "transformer",
}
_FAMILY_PB = {name: number for number, name in _FAMILY.items()}
_STATE = {
    RunState.PENDING: pb.TRAINING_RUN_STATE_PENDING,
    RunState.RUNNING: pb.TRAINING_RUN_STATE_RUNNING,
    RunState.SUCCEEDED: pb.TRAINING_RUN_STATE_SUCCEEDED,
    RunState.FAILED: pb.TRAINING_RUN_STATE_FAILED,
    RunState.CANCELLED: pb.TRAINING_RUN_STATE_CANCELLED,
}


def run_spec(request: pb.StartTrainingRunRequest) -> RunSpec:
    family = _FAMILY.get(request.family)
    if family is None:
        raise InvalidArgument.field("family", "is required: MODEL_FAMILY_XGBOOST, _GRU or _TRANSFORMER")
    return RunSpec(
        family=family,
        horizon=request.horizon.strip().lower(),
        symbols=tuple(s.strip().upper() for s in request.symbols),
        start=request.start.seconds if request.HasField("start") else 0,
        end=request.end.seconds if request.HasField("end") else 0,
        folds=request.folds,
    )


def _progress(progress: Progress) -> pb.TrainingProgress:
    return pb.TrainingProgress(
        stage=progress.stage,
        fold=progress.fold,
        folds=progress.folds,
        percent=progress.percent,
        message=progress.message,
    )


def run_message(run: TrainingRun) -> pb.TrainingRun:
    spec = run.spec
    return pb.TrainingRun(
        run_id=run.id,
        family=_FAMILY_PB[spec.family],
        horizon=spec.horizon,
        symbols=list(spec.symbols),
        start=to_timestamp(spec.start),
        end=to_timestamp(spec.end),
        folds=spec.folds,
        state=_STATE[run.state],
        progress=_progress(run.progress),
        produced_version=run.produced_version,
        models=list(run.models),
        error=run.error,
        started_by=run.started_by,
        created_at=to_timestamp(run.created_at),
        finished_at=to_optional_timestamp(run.finished_at),
    )


def _run_id(run_id: str) -> str:
    if not run_id.strip():
        raise InvalidArgument.field("run_id", "is required")
    return run_id.strip()


class TrainingHandlers(pb_grpc.TrainingServiceServicer):
    def __init__(self, runs: TrainingRuns) -> None:
        self.runs = runs

    async def StartTrainingRun(
        self, request: pb.StartTrainingRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartTrainingRunResponse:
        record: dict[str, object] = {
            "actor": current_caller().subject,
            "action": "start_training_run",
            "family": _FAMILY.get(request.family, ""),
            "horizon": request.horizon,
            "symbols": ",".join(request.symbols),
        }
        with audited(record):
            run = await self.runs.start(run_spec(request), current_caller().subject)
            record |= {"outcome": "started", "run_id": run.id}
        return pb.StartTrainingRunResponse(run=run_message(run))

    async def GetTrainingRun(
        self, request: pb.GetTrainingRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTrainingRunResponse:
        return pb.GetTrainingRunResponse(run=run_message(await self.runs.get(_run_id(request.run_id))))

    async def ListTrainingRuns(
        self, request: pb.ListTrainingRunsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTrainingRunsResponse:
        if request.limit < 0:
            raise InvalidArgument.field("limit", "must be 0 (default) or more")
        runs = await self.runs.latest(request.limit)
        return pb.ListTrainingRunsResponse(runs=[run_message(r) for r in runs])

    async def StreamTrainingRun(
        self, request: pb.StreamTrainingRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamTrainingRunResponse]:
        async for run in self.runs.watch(_run_id(request.run_id)):
            yield pb.StreamTrainingRunResponse(run=run_message(run))

    async def CancelTrainingRun(
        self, request: pb.CancelTrainingRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelTrainingRunResponse:
        record: AuditRecord = {
            "actor": current_caller().subject,
            "action": "cancel_training_run",
            "run_id": request.run_id,
        }
        with audited(record):
            run = await self.runs.cancel(_run_id(request.run_id))
            record["outcome"] = run.state.value
        return pb.CancelTrainingRunResponse(run=run_message(run))
